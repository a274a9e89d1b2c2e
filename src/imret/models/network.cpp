#include "imret/models/network.hpp"

#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/models/convnet.hpp"
#include "imret/models/resnet.hpp"

namespace imret::models {

nlohmann::json NetworkSpec::to_json() const {
  nlohmann::json json = {
      {"arch", arch}, {"in_channels", in_channels}, {"num_classes", num_classes}, {"embedding_dim", embedding_dim}};
  if (!embedding_relu) json["embedding_relu"] = false;
  if (head_dim > 0) json["head_dim"] = head_dim;
  if (learned_metric) {
    json["learned_metric"] = true;
    json["normalize_before_metric"] = normalize_before_metric;
  }
  return json;
}

NetworkSpec NetworkSpec::from_json(const nlohmann::json& json) {
  NetworkSpec spec;
  spec.arch = json.value("arch", spec.arch);
  spec.in_channels = json.value("in_channels", spec.in_channels);
  spec.num_classes = json.value("num_classes", spec.num_classes);
  spec.embedding_dim = json.value("embedding_dim", spec.embedding_dim);
  spec.embedding_relu = json.value("embedding_relu", spec.embedding_relu);
  spec.head_dim = json.value("head_dim", spec.head_dim);
  spec.learned_metric = json.value("learned_metric", spec.learned_metric);
  spec.normalize_before_metric = json.value("normalize_before_metric", spec.normalize_before_metric);
  return spec;
}

const std::vector<std::string>& known_architectures() {
  static const std::vector<std::string> names = {"convnet", "resnet18", "resnet34", "resnet50", "resnet101"};
  return names;
}

torch::Tensor Network::embed(const torch::Tensor& images) {
  torch::Tensor features = embed_features(images);
  if (embedding_head_) features = embedding_head_->forward(features);
  if (!metric_map_) return features;
  if (normalize_before_map_)
    features = torch::nn::functional::normalize(features, torch::nn::functional::NormalizeFuncOptions().dim(1));
  return metric_map_->forward(features);
}

torch::Tensor Network::forward(const torch::Tensor& images) {
  if (embedding_head_)
    throw UsageError("a network with an embedding head (head_dim) has no classifier on its output: train it with a "
                     "metric-learning method, not classification");
  return classify(embed(images));
}

void Network::add_embedding_head(int64_t dim) {
  if (dim < 1) throw UsageError("embedding head size must be at least 1, got " + std::to_string(dim));
  embedding_head_ = register_module("embedding_head", torch::nn::Linear(feature_dim(), dim));
  head_dim_ = dim;
}

void Network::add_metric_map(bool normalize_first) {
  const int64_t dim = embedding_dim();
  metric_map_ = register_module("metric_map", torch::nn::Linear(torch::nn::LinearOptions(dim, dim).bias(false)));
  torch::NoGradGuard no_grad;
  metric_map_->weight.copy_(torch::eye(dim));
  normalize_before_map_ = normalize_first;
}

namespace {
std::shared_ptr<Network> make_architecture(const NetworkSpec& spec) {
  if (spec.arch == "convnet") return std::make_shared<ConvNet>(spec.in_channels, spec.embedding_dim, spec.num_classes, spec.embedding_relu);
  if (spec.arch == "resnet18") return std::make_shared<ResNet>(ResNetDepth::k18, spec.in_channels, spec.num_classes);
  if (spec.arch == "resnet34") return std::make_shared<ResNet>(ResNetDepth::k34, spec.in_channels, spec.num_classes);
  if (spec.arch == "resnet50") return std::make_shared<ResNet>(ResNetDepth::k50, spec.in_channels, spec.num_classes);
  if (spec.arch == "resnet101") return std::make_shared<ResNet>(ResNetDepth::k101, spec.in_channels, spec.num_classes);
  std::string list;
  for (const auto& name : known_architectures()) list += (list.empty() ? "" : ", ") + name;
  throw UsageError("unknown architecture '" + spec.arch + "' (known: " + list + ")");
}
}  // namespace

std::shared_ptr<Network> make_network(const NetworkSpec& spec) {
  if (spec.num_classes < 1) throw UsageError("a network needs at least one class");
  if (spec.in_channels != 1 && spec.in_channels != 3)
    throw UsageError("input channels must be 1 or 3, got " + std::to_string(spec.in_channels));
  if (spec.head_dim < 0) throw UsageError("head_dim must be 0 (no head) or more, got " + std::to_string(spec.head_dim));
  std::shared_ptr<Network> network = make_architecture(spec);
  if (spec.head_dim > 0) network->add_embedding_head(spec.head_dim);
  if (spec.learned_metric) network->add_metric_map(spec.normalize_before_metric);
  return network;
}

}  // namespace imret::models
