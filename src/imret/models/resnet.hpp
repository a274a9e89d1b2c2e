#pragma once
// ResNet-18/34/50/101 built as torchvision builds them (v1.5: the stride of a
// bottleneck is on its 3x3 conv), with the same module and parameter names
// (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, ..., fc), so that a
// torchvision state_dict maps key for key. The embedding is the pooled
// feature vector (512-d for 18/34, 2048-d for 50/101), pooled as the spec says
// (torchvision's average by default): `fc` is the removed layer.
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include "imret/models/batch_norm.hpp"
#include "imret/models/folded_batch_norm.hpp"
#include <torch/nn/modules/linear.h>

#include "imret/models/network.hpp"
#include "imret/models/pooling.hpp"

namespace imret::models {

enum class ResNetDepth { k18, k34, k50, k101 };

class ResNet : public Network {
 public:
  ResNet(ResNetDepth depth, int64_t in_channels, int64_t num_classes, const PoolSpec& pool = {});
  torch::Tensor classify(const torch::Tensor& embeddings) override;
  int64_t feature_dim() const override { return feature_dim_; }
  std::vector<std::string> last_stage_prefixes() const override { return {"layer4.", "fc."}; }

 protected:
  torch::Tensor embed_features(const torch::Tensor& images) override;

 private:
  torch::nn::Sequential make_layer(bool bottleneck, int64_t planes, int64_t blocks, int64_t stride);

  int64_t inplanes_ = 64;
  int64_t feature_dim_ = 0;
  torch::nn::Conv2d conv1_{nullptr};
  BatchNorm bn1_{nullptr};
  ConvBatchNorm stem_;  // conv1_ + bn1_, folded out of training (folded_batch_norm.hpp)
  torch::nn::Sequential layer1_{nullptr}, layer2_{nullptr}, layer3_{nullptr}, layer4_{nullptr};
  torch::nn::Linear fc_{nullptr};
  Pooling pool_{nullptr};
};

}  // namespace imret::models
