#include "imret/models/resnet.hpp"

#include <torch/torch.h>

#include <array>

#include "imret/models/batch_norm.hpp"
#include "imret/models/folded_batch_norm.hpp"

namespace imret::models {
namespace nn = torch::nn;
namespace F = torch::nn::functional;

namespace {

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// The downsampling shortcut: Sequential(conv 1x1, batch norm), folded.
torch::Tensor shortcut(nn::Sequential& downsample, const torch::Tensor& x, ConvBatchNorm& folded) {
  return folded.forward(*downsample->ptr(0)->as<nn::Conv2d>(), *downsample->ptr(1)->as<BatchNorm>(), x);
}

// torchvision's BasicBlock: two 3x3 convs.
class BasicBlock : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlock(int64_t inplanes, int64_t planes, int64_t stride, nn::Sequential downsample)
      : conv1(register_module("conv1", conv(inplanes, planes, 3, stride))),
        bn1(register_module("bn1", BatchNorm(planes))),
        conv2(register_module("conv2", conv(planes, planes, 3, 1))),
        bn2(register_module("bn2", BatchNorm(planes))),
        downsample(downsample) {
    if (downsample) register_module("downsample", downsample);
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor identity = downsample ? shortcut(downsample, x, folded[2]) : x;
    torch::Tensor out = folded[0].forward(*conv1, *bn1, x).relu_();
    out = folded[1].forward(*conv2, *bn2, out);
    return (out += identity).relu_();
  }
  nn::Conv2d conv1;
  BatchNorm bn1;
  nn::Conv2d conv2;
  BatchNorm bn2;
  nn::Sequential downsample;
  std::array<ConvBatchNorm, 3> folded;
};

// torchvision's Bottleneck (v1.5): 1x1, 3x3 (strided), 1x1 with 4x expansion.
class Bottleneck : public nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  Bottleneck(int64_t inplanes, int64_t planes, int64_t stride, nn::Sequential downsample)
      : conv1(register_module("conv1", conv(inplanes, planes, 1, 1))),
        bn1(register_module("bn1", BatchNorm(planes))),
        conv2(register_module("conv2", conv(planes, planes, 3, stride))),
        bn2(register_module("bn2", BatchNorm(planes))),
        conv3(register_module("conv3", conv(planes, planes * kExpansion, 1, 1))),
        bn3(register_module("bn3", BatchNorm(planes * kExpansion))),
        downsample(downsample) {
    if (downsample) register_module("downsample", downsample);
  }
  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor identity = downsample ? shortcut(downsample, x, folded[3]) : x;
    torch::Tensor out = folded[0].forward(*conv1, *bn1, x).relu_();
    out = folded[1].forward(*conv2, *bn2, out).relu_();
    out = folded[2].forward(*conv3, *bn3, out);
    return (out += identity).relu_();
  }
  nn::Conv2d conv1;
  BatchNorm bn1;
  nn::Conv2d conv2;
  BatchNorm bn2;
  nn::Conv2d conv3;
  BatchNorm bn3;
  nn::Sequential downsample;
  std::array<ConvBatchNorm, 4> folded;
};

template <typename Block>
nn::Sequential build_layer(int64_t& inplanes, int64_t planes, int64_t blocks, int64_t stride) {
  nn::Sequential downsample{nullptr};
  if (stride != 1 || inplanes != planes * Block::kExpansion) {
    downsample = nn::Sequential(conv(inplanes, planes * Block::kExpansion, 1, stride),
                                BatchNorm(planes * Block::kExpansion));
  }
  nn::Sequential layer;
  layer->push_back(std::make_shared<Block>(inplanes, planes, stride, downsample));
  inplanes = planes * Block::kExpansion;
  for (int64_t i = 1; i < blocks; ++i) layer->push_back(std::make_shared<Block>(inplanes, planes, 1, nullptr));
  return layer;
}

}  // namespace

nn::Sequential ResNet::make_layer(bool bottleneck, int64_t planes, int64_t blocks, int64_t stride) {
  return bottleneck ? build_layer<Bottleneck>(inplanes_, planes, blocks, stride)
                    : build_layer<BasicBlock>(inplanes_, planes, blocks, stride);
}

ResNet::ResNet(ResNetDepth depth, int64_t in_channels, int64_t num_classes, const PoolSpec& pool) {
  const bool bottleneck = depth == ResNetDepth::k50 || depth == ResNetDepth::k101;
  std::array<int64_t, 4> blocks = {3, 4, 6, 3};
  if (depth == ResNetDepth::k18) blocks = {2, 2, 2, 2};
  if (depth == ResNetDepth::k101) blocks = {3, 4, 23, 3};
  conv1_ = register_module("conv1", nn::Conv2d(nn::Conv2dOptions(in_channels, 64, 7).stride(2).padding(3).bias(false)));
  bn1_ = register_module("bn1", BatchNorm(64));
  layer1_ = register_module("layer1", make_layer(bottleneck, 64, blocks[0], 1));
  layer2_ = register_module("layer2", make_layer(bottleneck, 128, blocks[1], 2));
  layer3_ = register_module("layer3", make_layer(bottleneck, 256, blocks[2], 2));
  layer4_ = register_module("layer4", make_layer(bottleneck, 512, blocks[3], 2));
  feature_dim_ = inplanes_;
  fc_ = register_module("fc", nn::Linear(feature_dim_, num_classes));
  pool_ = register_module("pool", Pooling(pool));

  // torchvision's initialisation: Kaiming normal (fan_out) convs, unit BN.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* c = module->as<nn::Conv2d>()) {
      nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* b = module->as<BatchNorm>()) {
      nn::init::ones_(b->weight);
      nn::init::zeros_(b->bias);
    }
  }
}

torch::Tensor ResNet::embed_features(const torch::Tensor& images) {
  torch::Tensor x = stem_.forward(*conv1_, *bn1_, images).relu_();
  x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
  x = layer4_->forward(layer3_->forward(layer2_->forward(layer1_->forward(x))));
  return pool_->forward(x);
}

torch::Tensor ResNet::classify(const torch::Tensor& embeddings) { return fc_->forward(embeddings); }

}  // namespace imret::models
