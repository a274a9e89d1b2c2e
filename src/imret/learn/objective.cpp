#include "imret/learn/objective.hpp"

#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/data/random.hpp"
#include "imret/learn/distance.hpp"
#include "imret/learn/loss.hpp"
#include "imret/learn/miner.hpp"

namespace imret::learn {
namespace {

class ClassificationObjective : public Objective {
 public:
  StepLoss loss(models::Network& network, const at::Tensor& images, const at::Tensor& labels,
                const at::Tensor&) override {
    return classification_loss(network.forward(images), labels);
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

  StepLoss loss(models::Network& network, const at::Tensor& images, const at::Tensor& labels,
                const at::Tensor& tuple_rows) override {
    return loss_on_embeddings(network.embed(images), labels, tuple_rows);
  }

  StepLoss loss_on_embeddings(const at::Tensor& raw, const at::Tensor& labels, const at::Tensor& tuple_rows) override {
    torch::Tensor embeddings = raw;
    if (config_.normalize && config_.distance != "mahalanobis")
      embeddings = torch::nn::functional::normalize(embeddings, torch::nn::functional::NormalizeFuncOptions().dim(1));
    Triplets triplets;
    Pairs pairs;
    const Triplets* mined_triplets = nullptr;
    const Pairs* mined_pairs = nullptr;
    if (tuple_rows.defined()) {
      if (tuple_rows.size(1) == 3) {
        triplets = triplets_from_rows(tuple_rows.to(embeddings.device()));
        mined_triplets = &triplets;
      } else {
        pairs = pairs_from_rows(tuple_rows.to(embeddings.device()), labels.to(embeddings.device()));
        mined_pairs = &pairs;
      }
    } else if (triplet_miner_) {
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

  void start_epoch(int64_t epoch) override {
    const uint64_t seed = data::derive_seed(config_.seed, 0x6d696e65, static_cast<uint64_t>(epoch));
    if (triplet_miner_) triplet_miner_ = make_triplet_miner(effective_miner(config_), seed, label_relation(config_));
    if (pair_miner_) pair_miner_ = make_pair_miner(effective_miner(config_), seed, label_relation(config_));
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

StepLoss classification_loss(const at::Tensor& logits, const at::Tensor& labels) {
  StepLoss step;
  if (labels.dim() == 2) {
    // Multi-label: one independent yes/no per class; correct = the exact set.
    const at::Tensor target = (labels > 0).to(logits.scalar_type());
    step.loss = torch::nn::functional::binary_cross_entropy_with_logits(logits, target);
    step.correct = (logits.detach() > 0).eq(target > 0).all(1).sum().item<int64_t>();
  } else {
    step.loss = torch::nn::functional::cross_entropy(logits, labels);
    step.correct = logits.argmax(1).eq(labels).sum().item<int64_t>();
  }
  return step;
}

LabelRelation label_relation(const TrainConfig& config) {
  LabelRelation relation;
  relation.positive_overlap = config.positive_overlap;
  relation.overlap_negatives = config.negatives == "below-overlap";
  return relation;
}

StepLoss Objective::loss_on_embeddings(const at::Tensor&, const at::Tensor&, const at::Tensor&) {
  throw UsageError("a loss on embeddings needs a metric-learning method");
}

Pairs pairs_from_rows(const at::Tensor& rows, const at::Tensor& labels) {
  if (rows.dim() != 2 || rows.size(1) != 2) throw Error("pairs_from_rows: expected a T x 2 tensor of rows");
  at::Tensor first = rows.select(1, 0), second = rows.select(1, 1);
  at::Tensor same = labels.index_select(0, first).eq(labels.index_select(0, second));
  return {first.masked_select(same), second.masked_select(same), first.masked_select(same.logical_not()),
          second.masked_select(same.logical_not())};
}

Triplets triplets_from_rows(const at::Tensor& rows) {
  if (rows.dim() != 2 || rows.size(1) != 3) throw Error("triplets_from_rows: expected a T x 3 tensor of rows");
  return {rows.select(1, 0).contiguous(), rows.select(1, 1).contiguous(), rows.select(1, 2).contiguous()};
}

const std::vector<std::string>& known_methods() {
  static const std::vector<std::string> methods = {"classification", "siamese",          "triplet",
                                                   "quadruplet",     "multi-similarity", "proxy-anchor"};
  return methods;
}

std::string effective_miner(const TrainConfig& config) {
  const std::string& method = config.method;
  if (method == "classification" || method == "proxy-anchor") return "-";
  if (config.tuples == "offline") return "offline";
  if (!config.miner.empty()) return config.miner;
  if (method == "siamese") return "all";
  if (method == "triplet" || method == "quadruplet") return "batch-hard";
  return "-";
}

std::unique_ptr<Objective> make_objective(const TrainConfig& config, int64_t num_classes, int64_t embedding_dim) {
  const std::string& method = config.method;
  if (method == "classification") return std::make_unique<ClassificationObjective>();
  // A learned Mahalanobis distance lives in the network (its metric map, after
  // the normalisation): the loss sees Euclidean distances of the map's output.
  const bool learned = config.distance == "mahalanobis";
  std::shared_ptr<Distance> distance = make_distance(learned ? "euclidean" : config.distance);
  std::shared_ptr<Loss> loss;
  std::unique_ptr<TripletMiner> triplet_miner;
  std::unique_ptr<PairMiner> pair_miner;
  const std::string miner = effective_miner(config);
  const LabelRelation relation = label_relation(config);
  if (method == "siamese") {
    loss = std::make_shared<ContrastiveLoss>(distance, config.pos_margin, config.margin, Reduction::kMeanNonZero,
                                             relation);
    // offline: the tuples come given
    if (miner != "offline") pair_miner = make_pair_miner(miner, config.seed, relation);
  } else if (method == "triplet") {
    loss = std::make_shared<TripletMarginLoss>(distance, config.margin, config.soft_margin, Reduction::kMeanNonZero,
                                               relation);
    if (miner != "offline") triplet_miner = make_triplet_miner(miner, config.seed, relation);
  } else if (method == "quadruplet") {
    loss = std::make_shared<QuadrupletLoss>(distance, config.margin, config.margin / 2, Reduction::kMeanNonZero,
                                            relation);
    triplet_miner = make_triplet_miner(miner, config.seed, relation);
  } else if (method == "multi-similarity") {
    loss = std::make_shared<MultiSimilarityLoss>(2.0, 50.0, 0.5, relation);
    if (miner != "-") pair_miner = make_pair_miner(miner, config.seed, relation);
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
