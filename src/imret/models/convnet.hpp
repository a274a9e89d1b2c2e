#pragma once
// A small ConvNet for 28x28 grey images (MNIST, Fashion-MNIST): four 3x3
// conv + batch-norm + ReLU layers in two stages with max-pooling, then a
// linear layer with batch-norm and ReLU, and the classifier `fc`. The
// embedding is taken after the ReLU (the classifier's input), or before it
// (embedding_relu false, for metric learning).
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include "imret/models/network.hpp"

namespace imret::models {

class ConvNet : public Network {
 public:
  ConvNet(int64_t in_channels, int64_t embedding_dim, int64_t num_classes, bool embedding_relu = true);
  torch::Tensor classify(const torch::Tensor& embeddings) override;
  int64_t feature_dim() const override { return embedding_dim_; }
  std::vector<std::string> last_stage_prefixes() const override { return {"embedding.", "fc."}; }

 protected:
  torch::Tensor embed_features(const torch::Tensor& images) override;

 private:
  int64_t embedding_dim_;
  bool embedding_relu_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Sequential embedding_{nullptr};
  torch::nn::Linear fc_{nullptr};
};

}  // namespace imret::models
