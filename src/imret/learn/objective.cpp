#include "imret/learn/objective.hpp"

#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/learn/distance.hpp"
#include "imret/learn/loss.hpp"
#include "imret/learn/miner.hpp"

namespace imret::learn {
namespace {

class ClassificationObjective : public Objective {
 public:
  StepLoss loss(models::Network& network, const at::Tensor& images, const at::Tensor& labels) override {
    torch::Tensor logits = network.forward(images);
    StepLoss step;
    step.loss = torch::nn::functional::cross_entropy(logits, labels);
    step.correct = logits.argmax(1).eq(labels).sum().item<int64_t>();
    return step;
  }
  bool trains_classifier() const override { return true; }
};

// Embeddings (L2-normalised unless config.normalize is off) -> miner -> loss.
class MetricObjective : public Objective {
 public:
  MetricObjective(const TrainConfig& config, std::shared_ptr<Distance> distance, std::shared_ptr<Loss> loss,
                  std::unique_ptr<TripletMiner> triplet_miner, std::unique_ptr<PairMiner> pair_miner)
      : config_(config),
        distance_(std::move(distance)),
        loss_(std::move(loss)),
        triplet_miner_(std::move(triplet_miner)),
        pair_miner_(std::move(pair_miner)) {}

  StepLoss loss(models::Network& network, const at::Tensor& images, const at::Tensor& labels) override {
    torch::Tensor embeddings = network.embed(images);
    if (config_.normalize)
      embeddings = torch::nn::functional::normalize(embeddings, torch::nn::functional::NormalizeFuncOptions().dim(1));
    Triplets triplets;
    Pairs pairs;
    const Triplets* mined_triplets = nullptr;
    const Pairs* mined_pairs = nullptr;
    if (triplet_miner_) {
      triplets = triplet_miner_->mine(embeddings, labels, *distance_, config_.margin);
      mined_triplets = &triplets;
    } else if (pair_miner_) {
      pairs = pair_miner_->mine(embeddings, labels, *distance_, config_.margin);
      mined_pairs = &pairs;
    }
    LossResult result = loss_->compute(embeddings, labels, mined_pairs, mined_triplets);
    StepLoss step;
    step.loss = result.loss;
    step.tuples = result.tuples;
    step.nonzero = result.nonzero;
    return step;
  }

  std::vector<at::Tensor> parameters() override {
    if (auto* module = dynamic_cast<torch::nn::Module*>(loss_.get())) return module->parameters();
    return {};
  }
  void to(c10::Device device) override {
    if (auto* module = dynamic_cast<torch::nn::Module*>(loss_.get())) module->to(device);
  }

 private:
  TrainConfig config_;
  std::shared_ptr<Distance> distance_;
  std::shared_ptr<Loss> loss_;
  std::unique_ptr<TripletMiner> triplet_miner_;
  std::unique_ptr<PairMiner> pair_miner_;
};

}  // namespace

const std::vector<std::string>& known_methods() {
  static const std::vector<std::string> methods = {"classification", "siamese",          "triplet",
                                                   "quadruplet",     "multi-similarity", "proxy-anchor"};
  return methods;
}

std::string effective_miner(const TrainConfig& config) {
  const std::string& method = config.method;
  if (method == "classification" || method == "proxy-anchor") return "-";
  if (!config.miner.empty()) return config.miner;
  if (method == "siamese") return "all";
  if (method == "triplet" || method == "quadruplet") return "batch-hard";
  return "-";
}

std::unique_ptr<Objective> make_objective(const TrainConfig& config, int64_t num_classes, int64_t embedding_dim) {
  const std::string& method = config.method;
  if (method == "classification") return std::make_unique<ClassificationObjective>();
  std::shared_ptr<Distance> distance = make_distance(config.distance);
  std::shared_ptr<Loss> loss;
  std::unique_ptr<TripletMiner> triplet_miner;
  std::unique_ptr<PairMiner> pair_miner;
  const std::string miner = effective_miner(config);
  if (method == "siamese") {
    loss = std::make_shared<ContrastiveLoss>(distance, config.pos_margin, config.margin);
    pair_miner = make_pair_miner(miner, config.seed);
  } else if (method == "triplet") {
    loss = std::make_shared<TripletMarginLoss>(distance, config.margin, config.soft_margin);
    triplet_miner = make_triplet_miner(miner, config.seed);
  } else if (method == "quadruplet") {
    loss = std::make_shared<QuadrupletLoss>(distance, config.margin, config.margin / 2);
    triplet_miner = make_triplet_miner(miner, config.seed);
  } else if (method == "multi-similarity") {
    loss = std::make_shared<MultiSimilarityLoss>();
    if (miner != "-") pair_miner = make_pair_miner(miner, config.seed);
  } else if (method == "proxy-anchor") {
    loss = std::make_shared<ProxyAnchorLoss>(num_classes, embedding_dim);
  } else {
    std::string list;
    for (const auto& name : known_methods()) list += (list.empty() ? "" : ", ") + name;
    throw UsageError("--method " + method + ": expected one of " + list);
  }
  return std::make_unique<MetricObjective>(config, distance, loss, std::move(triplet_miner), std::move(pair_miner));
}

}  // namespace imret::learn
