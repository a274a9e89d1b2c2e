#include "imret/models/embed.hpp"

#include <torch/torch.h>

#include "imret/core/progress.hpp"
#include "imret/models/channels_last.hpp"

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
  if (options.channels_last) use_channels_last(network);
  c10::InferenceMode inference;
  std::vector<torch::Tensor> parts;
  Embeddings result;
  Progress progress(options.label, dataset->size(), "img");
  while (auto batch = loader.next()) {
    torch::Tensor images = batch->images.to(options.device);
    if (options.channels_last) images = channels_last(images);
    parts.push_back(network.embed(images).to(torch::kCPU, torch::kFloat));
    result.indices.insert(result.indices.end(), batch->indices.begin(), batch->indices.end());
    progress.advance(static_cast<int64_t>(batch->indices.size()));
  }
  progress.finish();
  result.values = parts.empty() ? torch::empty({0, network.embedding_dim()}) : torch::cat(parts).contiguous();
  return result;
}

}  // namespace imret::models
