#include "imret/models/network.hpp"

#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/models/autocast.hpp"
#include "imret/models/convnet.hpp"
#include "imret/models/pooling.hpp"
#include "imret/models/resnet.hpp"
#include "imret/models/scripted_network.hpp"

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
  if (pool != "gap") json["pool"] = pool;
  if (!scales.empty()) json["scales"] = scales;
  if (arch == "torchscript") {
    json["model"] = model;
    json["model_method"] = model_method;
    json["model_output"] = model_output;
    json["input_size"] = input_size;
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
  spec.pool = json.value("pool", spec.pool);
  spec.scales = json.value("scales", spec.scales);
  spec.model = json.value("model", spec.model);
  spec.model_method = json.value("model_method", spec.model_method);
  spec.model_output = json.value("model_output", spec.model_output);
  spec.input_size = json.value("input_size", spec.input_size);
  return spec;
}

const std::vector<std::string>& known_architectures() {
  static const std::vector<std::string> names = {"convnet", "resnet18", "resnet34", "resnet50", "resnet101"};
  return names;
}

torch::Tensor Network::embed(const torch::Tensor& images) {
  torch::Tensor out;
  if (is_training() || scales_.empty()) {
    out = embed_once(images);
  } else {
    namespace F = torch::nn::functional;
    for (double scale : scales_) {
      torch::Tensor input = images;
      if (scale != 1.0) {
        const auto size = [&](int64_t side) { return std::max<int64_t>(1, std::llround(side * scale)); };
        input = F::interpolate(images, F::InterpolateFuncOptions()
                                           .size(std::vector<int64_t>{size(images.size(2)), size(images.size(3))})
                                           .mode(torch::kBilinear)
                                           .align_corners(false));
      }
      torch::Tensor one = F::normalize(embed_once(input), F::NormalizeFuncOptions().dim(1));
      out = out.defined() ? out + one : one;
    }
    out = F::normalize(out, F::NormalizeFuncOptions().dim(1));
  }
  if (whitening_ && !is_training()) out = whitening_->apply(out);
  return out;
}

void Network::set_scales(std::vector<double> scales) {
  for (double s : scales)
    if (!(s > 0 && s <= 4)) throw UsageError("--scales: each factor must be in (0, 4], got " + std::to_string(s));
  if (scales.size() == 1 && scales[0] == 1.0) scales.clear();
  scales_ = std::move(scales);
}

void Network::set_whitening(std::shared_ptr<const Whitening> whitening) {
  whitening_ = nullptr;
  if (whitening && whitening->input_dim() != embedding_dim())
    throw UsageError("the whitening takes " + std::to_string(whitening->input_dim()) + "-d embeddings, the network gives " +
                     std::to_string(embedding_dim()) + "-d");
  whitening_ = std::move(whitening);
}

void Network::set_precision(Precision precision) {
  precision_ = precision;
  use_precision_flags(precision);
}

torch::Tensor Network::embed_once(const torch::Tensor& images) {
  torch::Tensor features;
  {
    PrecisionScope scope(precision_, images.device().type());
    features = embed_features(images);
  }
  if (features.scalar_type() != torch::kFloat) features = features.to(torch::kFloat);
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
  const PoolSpec pool = parse_pool(spec.pool, "pool");
  if (spec.arch == "convnet" && pool.kind != "gap")
    throw UsageError("--pool " + spec.pool + ": the convnet ends in a linear layer, not a feature map; pooling is for "
                     "resnets and TorchScript backbones");
  if (spec.arch == "convnet") return std::make_shared<ConvNet>(spec.in_channels, spec.embedding_dim, spec.num_classes, spec.embedding_relu);
  if (spec.arch == "resnet18") return std::make_shared<ResNet>(ResNetDepth::k18, spec.in_channels, spec.num_classes, pool);
  if (spec.arch == "resnet34") return std::make_shared<ResNet>(ResNetDepth::k34, spec.in_channels, spec.num_classes, pool);
  if (spec.arch == "resnet50") return std::make_shared<ResNet>(ResNetDepth::k50, spec.in_channels, spec.num_classes, pool);
  if (spec.arch == "resnet101") return std::make_shared<ResNet>(ResNetDepth::k101, spec.in_channels, spec.num_classes, pool);
  if (spec.arch == "torchscript") return make_scripted_network(spec, pool);
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
  network->set_scales(spec.scales);
  return network;
}

}  // namespace imret::models
