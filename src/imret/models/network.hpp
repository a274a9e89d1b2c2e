#pragma once
// The networks imret trains and embeds with. Each is a classifier split in
// two: embed() is everything up to the penultimate layer (the retrieval
// embedding), classify() is the last linear layer, removed for retrieval.
// Module and parameter names follow torchvision so that its weights load.
//
// A learned metric (metric learning with --distance mahalanobis) adds a
// trainable linear map L ("metric_map", D x D, identity at first) after the
// embedding, L2-normalised first unless asked otherwise: Euclidean distances
// between the outputs are the learned Mahalanobis distance ||L(x - y)||, so
// that search and evaluation need nothing special.
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/core/precision.hpp"
#include "imret/models/whitening.hpp"

namespace imret::models {

struct NetworkSpec {
  std::string arch = "convnet";  // convnet | resnet18 | resnet34 | resnet50 | resnet101
  int64_t in_channels = 1;
  int64_t num_classes = 10;
  int64_t embedding_dim = 64;  // convnet only; ResNets embed with their pooled features (512 / 2048)
  // convnet: the embedding is the classifier's input, after its ReLU (what a
  // classifier with its last layer removed gives); off for metric learning,
  // whose L2-normalised embeddings need the whole sphere, not its positive part.
  bool embedding_relu = true;
  // An embedding head: a linear layer from the architecture's features to
  // head_dim (0: none), trained by metric learning, e.g. on a frozen
  // ImageNet backbone. The classifier stays on the features, unused.
  int64_t head_dim = 0;
  bool learned_metric = false;           // a metric map L after the embedding
  bool normalize_before_metric = true;   // L2-normalise the embedding before L
  // How a last feature map becomes a vector (pooling.hpp): resnets and
  // TorchScript backbones whose output is a feature map.
  std::string pool = "gap";
  // Multi-scale descriptors (evaluation only): the embedding of the images
  // resized by each factor, each L2-normalised, averaged and L2-normalised.
  // Empty: the images as they come.
  std::vector<double> scales;
  // arch "torchscript": a module exported with torch.jit.trace/script, the
  // method called and which of its outputs is the embedding (a tuple's index
  // or a dict's key; empty: the output itself), and the square input size
  // its output size is probed with.
  std::string model;
  std::string model_method = "forward";
  std::string model_output;
  int64_t input_size = 224;

  nlohmann::json to_json() const;
  static NetworkSpec from_json(const nlohmann::json& json);
};

class Network : public torch::nn::Module {
 public:
  // The retrieval embedding: the architecture's features, then the
  // embedding head and the metric map if any. Out of training, at the
  // network's scales (if set) and whitened (if set).
  torch::Tensor embed(const torch::Tensor& images);
  // Class scores of the architecture's features (not valid on an embedding
  // head's output).
  virtual torch::Tensor classify(const torch::Tensor& embeddings) = 0;
  // Size of embed()'s output.
  int64_t embedding_dim() const {
    if (whitening_) return whitening_->output_dim();
    return embedding_head_ ? head_dim_ : feature_dim();
  }
  // Size of the architecture's features (the classifier's input).
  virtual int64_t feature_dim() const = 0;
  // Parameter-name prefixes of the last stage and the classifier: what stays
  // trainable with --freeze all-but-last.
  virtual std::vector<std::string> last_stage_prefixes() const = 0;
  // classify(embed(images)); UsageError with an embedding head (its output
  // is not the classifier's input).
  torch::Tensor forward(const torch::Tensor& images);

  // A backbone whose batch norm cannot be reached as models::BatchNorm (a
  // TorchScript module) keeps evaluating while the network trains: its
  // statistics stay as they are when it is frozen. No-op for the others.
  virtual void keep_backbone_evaluating(bool /*on*/) {}

  // Registers the metric map (identity-initialised); make_network calls it for
  // a spec with learned_metric.
  void add_metric_map(bool normalize_first);
  bool has_metric_map() const { return static_cast<bool>(metric_map_); }
  // Registers the embedding head "embedding_head" (features -> dim, with a
  // bias); make_network calls it for a spec with head_dim > 0.
  void add_embedding_head(int64_t dim);
  bool has_embedding_head() const { return static_cast<bool>(embedding_head_); }
  // Multi-scale embedding (NetworkSpec::scales); UsageError for a factor
  // outside (0, 4]. {} or {1}: single scale.
  void set_scales(std::vector<double> scales);
  // Whitening applied to embed()'s output out of training (null: none).
  // UsageError when it takes another dimension than the network gives.
  void set_whitening(std::shared_ptr<const Whitening> whitening);
  const Whitening* whitening() const { return whitening_.get(); }
  // The precision the architecture's features are computed in (autocast.hpp);
  // the embedding head, metric map, classifier, scales' averaging and
  // whitening run in float32, and embed() returns float32 in every mode.
  // Callers check the device first (check_precision_on). Sets the process-wide
  // TF32 flags for the precision too (use_precision_flags in autocast.hpp).
  void set_precision(Precision precision);
  Precision precision() const { return precision_; }

 protected:
  // The architecture's embedding (up to the penultimate layer).
  virtual torch::Tensor embed_features(const torch::Tensor& images) = 0;

 private:
  torch::Tensor embed_once(const torch::Tensor& images);
  std::vector<double> scales_;
  std::shared_ptr<const Whitening> whitening_;
  Precision precision_ = Precision::Fp32;
  torch::nn::Linear embedding_head_{nullptr};
  int64_t head_dim_ = 0;
  torch::nn::Linear metric_map_{nullptr};
  bool normalize_before_map_ = true;
};

// Builds a freshly initialised network; UsageError for an unknown arch.
std::shared_ptr<Network> make_network(const NetworkSpec& spec);

// The architectures make_network knows, for help texts and errors.
const std::vector<std::string>& known_architectures();

}  // namespace imret::models
