#pragma once
// Embedding a dataset with a network under no-grad, in evaluation mode.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

#include "imret/core/precision.hpp"
#include "imret/data/dataset.hpp"
#include "imret/data/loader.hpp"
#include "imret/data/transforms.hpp"
#include "imret/models/network.hpp"

namespace imret::models {

struct Embeddings {
  at::Tensor values;             // N x D float32 on the CPU
  std::vector<int64_t> indices;  // dataset index of each row (bad images skipped)
};

struct EmbedOptions {
  int64_t batch_size = 256;
  int workers = 2;
  c10::Device device = c10::kCPU;
  data::BadImagePolicy on_bad_image = data::BadImagePolicy::Skip;
  std::string label = "embed";  // progress label
  // Runs the convolutions in channels-last layout (the network's 4-D weights
  // are converted in place; see channels_last.hpp).
  bool channels_last = false;
  // The network's precision (core/precision.hpp); checked against the device.
  Precision precision = Precision::Fp32;
};

// Runs network.embed() over the whole dataset in order. Leaves the network in
// evaluation mode, at options.precision.
// On a CUDA device the batches are pinned by the loader's workers, copied on a
// side stream while the previous batch computes, and the embeddings come back
// to the host in large blocks, so that the host never waits for the GPU
// between batches (docs/gpu.md). Bad images are handled per options.on_bad_image and
// recorded in `bad_images` when given.
Embeddings embed_dataset(Network& network, std::shared_ptr<const data::Dataset> dataset,
                         std::shared_ptr<const data::Transform> transform, const EmbedOptions& options,
                         std::shared_ptr<data::BadImageLog> bad_images = nullptr);

}  // namespace imret::models
