#include "imret/learn/objective.hpp"

#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/data/random.hpp"
#include "imret/dist/communicator.hpp"
#include "imret/learn/distance.hpp"
#include "imret/learn/loss.hpp"
#include "imret/learn/miner.hpp"
#include "imret/learn/registry.hpp"

namespace imret::learn {
namespace {

class ClassificationObjective : public Objective {
 public:
  StepLoss loss(models::Network& network, const at::Tensor& images, const at::Tensor& labels,
                const at::Tensor&) override {
    if (!group_) return classification_loss(network.forward(images), labels);
    return classification_loss(dist::gather_rows(*group_, network.forward(images)), dist::gather_rows(*group_, labels));
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
        pair_miner_(std::move(pair_miner)),
        // A learned distance's map normalises inside the network, before the map.
        normalize_(config.normalize && !find_distance(config.distance).learned) {}

  StepLoss loss(models::Network& network, const at::Tensor& images, const at::Tensor& labels,
                const at::Tensor& tuple_rows) override {
    if (!group_) return loss_on_embeddings(network.embed(images), labels, tuple_rows);
    int64_t offset = 0;
    at::Tensor embeddings = dist::gather_rows(*group_, network.embed(images), &offset);
    at::Tensor all_rows;
    if (tuple_rows.defined()) all_rows = dist::gather_rows(*group_, tuple_rows + offset);
    return loss_on_embeddings(embeddings, dist::gather_rows(*group_, labels), all_rows);
  }

  StepLoss loss_on_embeddings(const at::Tensor& raw, const at::Tensor& labels, const at::Tensor& tuple_rows) override {
    torch::Tensor embeddings = raw;
    if (normalize_)
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
    step.images = embeddings.size(0);
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
  bool normalize_;
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
  step.images = logits.size(0);
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

std::string effective_miner(const TrainConfig& config) {
  const MethodDescriptor& method = find_method(config.method);
  if (method.tuples == TupleShape::None) return "-";
  if (config.tuples == "offline") return "offline";
  if (!config.miner.empty()) return config.miner;
  return method.default_miner.empty() ? "-" : method.default_miner;
}

std::unique_ptr<Objective> make_objective(const TrainConfig& config, int64_t num_classes, int64_t embedding_dim) {
  const MethodDescriptor& method = find_method(config.method);
  if (method.trains_classifier) return std::make_unique<ClassificationObjective>();
  const LossContext context{config, find_distance(config.distance).make(), label_relation(config), num_classes,
                            embedding_dim};
  std::unique_ptr<TripletMiner> triplet_miner;
  std::unique_ptr<PairMiner> pair_miner;
  const std::string miner = effective_miner(config);
  if (miner != "-" && miner != "offline") {  // offline: the tuples come given
    if (method.tuples == TupleShape::Triplets) triplet_miner = make_triplet_miner(miner, config.seed, context.relation);
    if (method.tuples == TupleShape::Pairs) pair_miner = make_pair_miner(miner, config.seed, context.relation);
  }
  return std::make_unique<MetricObjective>(config, context.distance, method.make_loss(context),
                                           std::move(triplet_miner), std::move(pair_miner));
}

MethodDescriptor classification_method() {
  MethodDescriptor m;
  m.name = "classification";
  m.help = "cross-entropy of a classifier whose features become the embedding";
  m.trains_classifier = true;
  return m;
}

}  // namespace imret::learn
