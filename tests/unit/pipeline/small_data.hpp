#pragma once
// Small data for the job tests: a Fashion-MNIST folder of a few hundred
// images (the first images of the real one, written as plain IDX files), and
// labelled embedding sets drawn around class centres.
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/data/idx.hpp"
#include "support/scratch.hpp"

namespace imret::testing {

inline void write_be32(std::ofstream& out, uint32_t value) {
  const unsigned char bytes[4] = {static_cast<unsigned char>(value >> 24), static_cast<unsigned char>(value >> 16),
                                  static_cast<unsigned char>(value >> 8), static_cast<unsigned char>(value)};
  out.write(reinterpret_cast<const char*>(bytes), 4);
}

// `prefix`-images-idx3-ubyte and -labels-idx1-ubyte holding the first `count`
// items of `source`.
inline void write_idx_split(const data::Dataset& source, int64_t count, const std::filesystem::path& folder,
                            const std::string& prefix) {
  std::ofstream images(folder / (prefix + "-images-idx3-ubyte"), std::ios::binary);
  std::ofstream labels(folder / (prefix + "-labels-idx1-ubyte"), std::ios::binary);
  write_be32(images, 0x00000803);
  write_be32(images, static_cast<uint32_t>(count));
  write_be32(images, 28);
  write_be32(images, 28);
  write_be32(labels, 0x00000801);
  write_be32(labels, static_cast<uint32_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    const at::Tensor pixels = (source.load(i) * 255).round().to(torch::kUInt8).contiguous();
    images.write(reinterpret_cast<const char*>(pixels.data_ptr<uint8_t>()), pixels.numel());
    const char label = static_cast<char>(source.label(i));
    labels.write(&label, 1);
  }
}

// <scratch>/<name>-fashion: `train` and `test` items of Fashion-MNIST's own splits.
inline std::filesystem::path small_fashion_folder(const std::string& suite, const std::string& name, int64_t train,
                                                  int64_t test) {
  const std::filesystem::path folder = scratch_path(suite, name + "-fashion");
  std::filesystem::create_directories(folder);
  write_idx_split(*data::load_mnist_folder(data::kDefaultFashionMnist, "train"), train, folder, "train");
  write_idx_split(*data::load_mnist_folder(data::kDefaultFashionMnist, "test"), test, folder, "t10k");
  return folder;
}

// `per_class` items of each of `classes` classes: class centre + noise, in `dim` dimensions.
inline EmbeddingSet clustered_set(int64_t classes, int64_t per_class, int64_t dim, double noise, uint64_t seed) {
  torch::manual_seed(seed);
  const at::Tensor centres = torch::randn({classes, dim}, torch::kFloat);
  EmbeddingSet set;
  set.embeddings.rows = classes * per_class;
  set.embeddings.cols = dim;
  for (int64_t c = 0; c < classes; ++c)
    for (int64_t i = 0; i < per_class; ++i) {
      const at::Tensor row = (centres[c] + noise * torch::randn({dim})).contiguous();
      set.embeddings.values.insert(set.embeddings.values.end(), row.data_ptr<float>(),
                                   row.data_ptr<float>() + dim);
      const int64_t index = static_cast<int64_t>(set.items.size());
      set.items.push_back({index, "item" + std::to_string(index), c, "class " + std::to_string(c), std::nullopt});
    }
  return set;
}

}  // namespace imret::testing
