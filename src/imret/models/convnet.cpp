#include "imret/models/convnet.hpp"

#include <torch/torch.h>

#include "imret/models/batch_norm.hpp"

namespace imret::models {
namespace nn = torch::nn;

namespace {
void add_conv_block(nn::Sequential& seq, int64_t in, int64_t out) {
  seq->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
  seq->push_back(BatchNorm(out));
  seq->push_back(nn::ReLU(nn::ReLUOptions().inplace(true)));
}
}  // namespace

ConvNet::ConvNet(int64_t in_channels, int64_t embedding_dim, int64_t num_classes, bool embedding_relu)
    : embedding_dim_(embedding_dim), embedding_relu_(embedding_relu) {
  nn::Sequential features;
  add_conv_block(features, in_channels, 32);
  add_conv_block(features, 32, 32);
  features->push_back(nn::MaxPool2d(2));
  add_conv_block(features, 32, 64);
  add_conv_block(features, 64, 64);
  features->push_back(nn::MaxPool2d(2));
  features_ = register_module("features", features);
  embedding_ = register_module(
      "embedding", nn::Sequential(nn::Flatten(), nn::Linear(nn::LinearOptions(64 * 7 * 7, embedding_dim).bias(false)),
                                  BatchNorm(embedding_dim)));
  fc_ = register_module("fc", nn::Linear(embedding_dim, num_classes));
}

torch::Tensor ConvNet::embed_features(const torch::Tensor& images) {
  torch::Tensor maps = features_->forward(images);
  // The head takes 64 x 7 x 7 maps (those of 28x28 images); other sizes are pooled to that.
  if (maps.size(2) != 7 || maps.size(3) != 7) maps = torch::adaptive_avg_pool2d(maps, {7, 7});
  torch::Tensor embedding = embedding_->forward(maps);
  return embedding_relu_ ? torch::relu(embedding) : embedding;
}

// The ReLU is idempotent: fc sees the same input whichever embedding is taken.
torch::Tensor ConvNet::classify(const torch::Tensor& embeddings) { return fc_->forward(torch::relu(embeddings)); }

}  // namespace imret::models
