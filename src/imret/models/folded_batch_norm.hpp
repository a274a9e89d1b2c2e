#pragma once
// A convolution followed by batch norm, with the batch norm folded into the
// convolution when nothing needs the two apart: the batch norm is evaluating
// (running statistics) and gradients are off, as when embedding or serving.
// Then conv(x, W * s) + (beta - mean * s), s = gamma / sqrt(var + eps), is
// one convolution with a bias instead of a convolution and a pass over its
// output: the same result to float rounding (about 1e-6 relative), one
// memory-bound pass less per layer. The folded weights are cached and made
// again when a source tensor changes (its storage, device, type or version;
// num_batches_tracked stands for the running statistics, which training
// updates without a version bump) or eps does. Training, frozen batch norm
// under gradients included, runs the two apart (and drops the folded copy).
// Convolutions padded other than with zeros are left apart too.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <mutex>
#include <vector>

#include "imret/models/batch_norm.hpp"

namespace torch::nn {
class Conv2dImpl;
}

namespace imret::models {

// Folding on (the default) or off, process-wide: off runs the two apart
// everywhere (the benchmarks measure what folding gains).
void set_batch_norm_folding(bool on);
bool batch_norm_folding();

class ConvBatchNorm {
 public:
  at::Tensor forward(torch::nn::Conv2dImpl& conv, BatchNormImpl& bn, const at::Tensor& x);

 private:
  struct Source {
    const void* data = nullptr;
    int64_t version = -1;
    bool operator==(const Source& o) const { return data == o.data && version == o.version; }
  };
  std::mutex mutex_;
  at::Tensor weight_, bias_;
  std::vector<Source> made_from_;
  double made_with_eps_ = -1;
};

}  // namespace imret::models
