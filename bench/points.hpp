#pragma once
// The points the map benchmarks (t-SNE, UMAP) run on: the first N rows of an
// embedding folder, or Fashion-MNIST's test then training images as pixels.
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/data/idx.hpp"

namespace bench {

struct Points {
  std::string name;
  at::Tensor data;  // N x D float32
  std::vector<int64_t> labels;
};

// The first n of Fashion-MNIST's 70,000 images (test, then train) as 784 pixels in [0, 1].
inline Points fashion_mnist_pixels(int64_t n) {
  at::Tensor pixels;
  std::vector<int64_t> labels;
  for (const std::string split : {"test", "train"}) {
    const auto set = imret::data::load_mnist_folder(imret::data::kDefaultFashionMnist, split);
    std::vector<int64_t> all(static_cast<size_t>(set->size()));
    std::iota(all.begin(), all.end(), 0);
    const at::Tensor images = set->load_many(all).reshape({set->size(), -1});
    pixels = pixels.defined() ? torch::cat({pixels, images}) : images;
    for (const int64_t i : all) labels.push_back(set->label(i));
  }
  n = std::min<int64_t>(n, pixels.size(0));
  labels.resize(static_cast<size_t>(n));
  return {"Fashion-MNIST pixels", pixels.slice(0, 0, n).to(torch::kFloat32).contiguous(), labels};
}

// The first n rows of an embedding folder (imret embed).
inline Points embedding_folder(const std::string& folder, int64_t n) {
  imret::EmbeddingSet set = imret::load_embedding_set(folder);
  const imret::FloatMatrix& m = set.embeddings;
  n = std::min(n, m.rows);
  std::vector<int64_t> labels = set.labels();
  labels.resize(static_cast<size_t>(n));
  return {"embeddings " + folder,
          torch::from_blob(const_cast<float*>(m.values.data()), {m.rows, m.cols}, torch::kFloat32).slice(0, 0, n).clone(),
          labels};
}

}  // namespace bench
