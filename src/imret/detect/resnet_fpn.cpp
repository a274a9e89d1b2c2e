#include "imret/detect/resnet_fpn.hpp"

#include <torch/torch.h>

namespace imret::detect {

torch::Tensor ConvLayer::forward(const torch::Tensor& x) const {
  torch::Tensor y = torch::conv2d(x, weight, bias, {stride, stride}, {padding, padding});
  if (scale.defined()) y.mul_(scale).add_(shift);
  return y;
}

ConvLayer conv_with_frozen_bn(WeightTable& weights, const std::string& conv_prefix, const std::string& bn_prefix,
                              std::vector<int64_t> shape, int64_t stride, int64_t padding, double eps) {
  const int64_t channels = shape[0];
  torch::Tensor weight = weights.take(conv_prefix + "weight", shape);
  const torch::Tensor gamma = weights.take(bn_prefix + "weight", {channels});
  const torch::Tensor beta = weights.take(bn_prefix + "bias", {channels});
  const torch::Tensor mean = weights.take(bn_prefix + "running_mean", {channels});
  const torch::Tensor var = weights.take(bn_prefix + "running_var", {channels});
  ConvLayer layer;
  layer.stride = stride;
  layer.padding = padding;
  if (!weight.defined() || !gamma.defined() || !beta.defined() || !mean.defined() || !var.defined()) return layer;
  // Folding the scale into the weights would save a pass over the output but
  // round differently from torchvision: enough to flip detections at the
  // NMS and score thresholds.
  layer.weight = weight;
  layer.scale = gamma * (var + eps).rsqrt();
  layer.shift = (beta - mean * layer.scale).view({-1, 1, 1});
  layer.scale = layer.scale.view({-1, 1, 1});
  return layer;
}

ConvLayer conv_with_bias(WeightTable& weights, const std::string& prefix, std::vector<int64_t> shape, int64_t stride,
                         int64_t padding) {
  ConvLayer layer;
  layer.bias = weights.take(prefix + "bias", {shape[0]});
  layer.weight = weights.take(prefix + "weight", std::move(shape));
  layer.stride = stride;
  layer.padding = padding;
  return layer;
}

torch::Tensor ResNetFpn::Bottleneck::forward(const torch::Tensor& x) const {
  torch::Tensor out = conv1.forward(x).relu_();
  out = conv2.forward(out).relu_();
  out = conv3.forward(out);
  out += downsample.weight.defined() ? downsample.forward(x) : x;
  return out.relu_();
}

ResNetFpn::ResNetFpn(WeightTable& weights, double bn_eps) {
  const std::string body = "backbone.body.";
  stem_ = conv_with_frozen_bn(weights, body + "conv1.", body + "bn1.", {64, 3, 7, 7}, 2, 3, bn_eps);
  const int64_t blocks[4] = {3, 4, 6, 3};
  int64_t inplanes = 64;
  for (int64_t stage = 0; stage < 4; ++stage) {
    const int64_t planes = 64 << stage;
    std::vector<Bottleneck> layer;
    for (int64_t b = 0; b < blocks[stage]; ++b) {
      const std::string p = body + "layer" + std::to_string(stage + 1) + "." + std::to_string(b) + ".";
      const int64_t stride = (b == 0 && stage > 0) ? 2 : 1;
      Bottleneck block;
      block.conv1 = conv_with_frozen_bn(weights, p + "conv1.", p + "bn1.", {planes, inplanes, 1, 1}, 1, 0, bn_eps);
      block.conv2 = conv_with_frozen_bn(weights, p + "conv2.", p + "bn2.", {planes, planes, 3, 3}, stride, 1, bn_eps);
      block.conv3 = conv_with_frozen_bn(weights, p + "conv3.", p + "bn3.", {planes * 4, planes, 1, 1}, 1, 0, bn_eps);
      if (b == 0)
        block.downsample = conv_with_frozen_bn(weights, p + "downsample.0.", p + "downsample.1.",
                                               {planes * 4, inplanes, 1, 1}, stride, 0, bn_eps);
      inplanes = planes * 4;
      layer.push_back(std::move(block));
    }
    stages_.push_back(std::move(layer));
  }
  for (int64_t level = 0; level < 4; ++level) {
    const std::string i = std::to_string(level);
    inner_.push_back(
        conv_with_bias(weights, "backbone.fpn.inner_blocks." + i + ".0.", {kChannels, 256 << level, 1, 1}, 1, 0));
    layer_.push_back(
        conv_with_bias(weights, "backbone.fpn.layer_blocks." + i + ".0.", {kChannels, kChannels, 3, 3}, 1, 1));
  }
}

std::vector<torch::Tensor> ResNetFpn::forward(const torch::Tensor& images) const {
  torch::Tensor x = stem_.forward(images).relu_();
  x = torch::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  std::vector<torch::Tensor> body;
  for (const auto& stage : stages_) {
    for (const auto& block : stage) x = block.forward(x);
    body.push_back(x);
  }
  // Top-down: the coarsest lateral first, each finer one plus the nearest
  // upsampling of the level above it.
  std::vector<torch::Tensor> levels(5);
  torch::Tensor last_inner = inner_[3].forward(body[3]);
  levels[3] = layer_[3].forward(last_inner);
  for (int level = 2; level >= 0; --level) {
    const torch::Tensor lateral = inner_[level].forward(body[level]);
    const torch::Tensor top_down =
        torch::nn::functional::interpolate(last_inner, torch::nn::functional::InterpolateFuncOptions()
                                                           .size(std::vector<int64_t>{lateral.size(2), lateral.size(3)})
                                                           .mode(torch::kNearest));
    last_inner = lateral + top_down;
    levels[level] = layer_[level].forward(last_inner);
  }
  levels[4] = torch::max_pool2d(levels[3], {1, 1}, {2, 2}, {0, 0});
  return levels;
}

void ResNetFpn::visit(const TensorVisitor& visitor) {
  auto conv = [&](ConvLayer& layer) {
    for (torch::Tensor* t : {&layer.weight, &layer.bias, &layer.scale, &layer.shift})
      if (t->defined()) visitor(*t);
  };
  conv(stem_);
  for (auto& stage : stages_)
    for (auto& block : stage) {
      conv(block.conv1);
      conv(block.conv2);
      conv(block.conv3);
      conv(block.downsample);
    }
  for (auto& layer : inner_) conv(layer);
  for (auto& layer : layer_) conv(layer);
}

}  // namespace imret::detect
