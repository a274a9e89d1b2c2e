#pragma once
// The detectors' backbone: torchvision's ResNet-50 body with frozen batch
// norm and a feature pyramid network with the
// extra max-pool level, giving 256-channel maps at strides 4, 8, 16, 32, 64
// (torchvision's keys "0", "1", "2", "3", "pool").
#include <torch/types.h>

#include <functional>
#include <vector>

#include "imret/detect/detector_weights.hpp"

namespace imret::detect {

// A convolution with a bias, or followed by a frozen batch norm (x * scale +
// shift per channel, as torchvision computes it).
struct ConvLayer {
  torch::Tensor weight, bias;
  torch::Tensor scale, shift;  // C x 1 x 1, frozen batch norm only
  int64_t stride = 1, padding = 0;
  torch::Tensor forward(const torch::Tensor& x) const;
};

using TensorVisitor = std::function<void(torch::Tensor&)>;

// `prefix`weight of shape [out, in, k, k] followed by the frozen batch norm
// `bn_prefix`{weight, bias, running_mean, running_var}: scale = weight *
// rsqrt(running_var + eps), shift = bias - running_mean * scale.
ConvLayer conv_with_frozen_bn(WeightTable& weights, const std::string& conv_prefix, const std::string& bn_prefix,
                              std::vector<int64_t> shape, int64_t stride, int64_t padding, double eps);
// `prefix`weight and `prefix`bias.
ConvLayer conv_with_bias(WeightTable& weights, const std::string& prefix, std::vector<int64_t> shape, int64_t stride,
                         int64_t padding);

class ResNetFpn {
 public:
  static constexpr int64_t kChannels = 256;

  // Keys under "backbone.body." and "backbone.fpn."; bn_eps is the frozen
  // batch norm's epsilon (0 for torchvision's COCO v1 weights).
  ResNetFpn(WeightTable& weights, double bn_eps);

  // Batched, normalised images N x 3 x H x W (H, W multiples of 32) -> the
  // five pyramid levels, finest first.
  std::vector<torch::Tensor> forward(const torch::Tensor& images) const;

  void visit(const TensorVisitor& visitor);

 private:
  struct Bottleneck {
    ConvLayer conv1, conv2, conv3, downsample;
    torch::Tensor forward(const torch::Tensor& x) const;
  };
  ConvLayer stem_;
  std::vector<std::vector<Bottleneck>> stages_;
  std::vector<ConvLayer> inner_, layer_;
};

}  // namespace imret::detect
