#pragma once
// The networks imret trains and embeds with. Each is a classifier split in
// two: embed() is everything up to the penultimate layer (the retrieval
// embedding), classify() is the last linear layer, removed for retrieval.
// Module and parameter names follow torchvision so that its weights load.
#include <torch/nn/module.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace imret::models {

struct NetworkSpec {
  std::string arch = "convnet";  // convnet | resnet18 | resnet34 | resnet50 | resnet101
  int64_t in_channels = 1;
  int64_t num_classes = 10;
  int64_t embedding_dim = 64;  // convnet only; ResNets embed with their pooled features (512 / 2048)

  nlohmann::json to_json() const;
  static NetworkSpec from_json(const nlohmann::json& json);
};

class Network : public torch::nn::Module {
 public:
  virtual torch::Tensor embed(const torch::Tensor& images) = 0;
  virtual torch::Tensor classify(const torch::Tensor& embeddings) = 0;
  virtual int64_t embedding_dim() const = 0;
  // Parameter-name prefixes of the last stage and the classifier: what stays
  // trainable with --freeze all-but-last.
  virtual std::vector<std::string> last_stage_prefixes() const = 0;
  torch::Tensor forward(const torch::Tensor& images) { return classify(embed(images)); }
};

// Builds a freshly initialised network; UsageError for an unknown arch.
std::shared_ptr<Network> make_network(const NetworkSpec& spec);

// The architectures make_network knows, for help texts and errors.
const std::vector<std::string>& known_architectures();

}  // namespace imret::models
