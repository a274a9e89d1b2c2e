#include "imret/models/embed.hpp"

#include <torch/torch.h>

#include "imret/core/progress.hpp"

namespace imret::models {

Embeddings embed_dataset(Network& network, std::shared_ptr<const data::Dataset> dataset,
                         std::shared_ptr<const data::Transform> transform, const EmbedOptions& options,
                         std::shared_ptr<data::BadImageLog> bad_images) {
  data::LoaderOptions loader_options;
  loader_options.batch_size = options.batch_size;
  loader_options.workers = options.workers;
  loader_options.on_bad_image = options.on_bad_image;
  data::Loader loader(dataset, std::move(transform), loader_options, std::move(bad_images));
  loader.start_epoch(0);

  network.eval();
  network.to(options.device);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  Embeddings result;
  Progress progress(options.label, dataset->size(), "img");
  while (auto batch = loader.next()) {
    parts.push_back(network.embed(batch->images.to(options.device)).to(torch::kCPU, torch::kFloat));
    result.indices.insert(result.indices.end(), batch->indices.begin(), batch->indices.end());
    progress.advance(static_cast<int64_t>(batch->indices.size()));
  }
  progress.finish();
  result.values = parts.empty() ? torch::empty({0, network.embedding_dim()}) : torch::cat(parts).contiguous();
  return result;
}

}  // namespace imret::models
