#pragma once
// What a training step minimises: cross-entropy of the classifier
// (method "classification"), or a metric-learning loss on the embeddings of a
// P x K batch, on the tuples a miner chose (siamese/contrastive, triplet,
// quadruplet, multi-similarity, proxy-anchor).
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

#include "imret/learn/label_relation.hpp"
#include "imret/learn/train_config.hpp"
#include "imret/learn/tuples.hpp"
#include "imret/models/network.hpp"

namespace imret::dist {
class Communicator;
}

namespace imret::learn {

struct StepLoss {
  at::Tensor loss;
  int64_t correct = -1;  // classification: correctly classified images of the batch
  int64_t tuples = -1;   // metric learning: tuples the loss saw (after mining)
  int64_t nonzero = -1;  // ... and those with a non-zero loss
  int64_t images = -1;   // the rows the loss saw: the global batch in a data-parallel run (-1: the batch's)
};

class Objective {
 public:
  virtual ~Objective() = default;
  // labels: N class indices, or, for multi-label data, N x C object counts
  // (data::Batch::objects). `tuple_rows` (offline tuples, T x 2 pairs or T x 3 triplets of batch
  // rows, int64): the tuples to use instead of mining; undefined: mine.
  virtual StepLoss loss(models::Network& network, const at::Tensor& images, const at::Tensor& labels,
                        const at::Tensor& tuple_rows = {}) = 0;
  // The metric loss on given embeddings (e.g. the validation split's, with
  // fixed validation tuples). UsageError for classification.
  virtual StepLoss loss_on_embeddings(const at::Tensor& embeddings, const at::Tensor& labels,
                                      const at::Tensor& tuple_rows = {});
  // Called before each epoch (0-based): random miners draw from a stream of
  // their own per epoch, so that a resumed run mines what an uninterrupted one would.
  virtual void start_epoch(int64_t epoch) { (void)epoch; }
  // Trainable tensors of the objective itself (e.g. proxies), to optimise too.
  virtual std::vector<at::Tensor> parameters() { return {}; }
  virtual void to(c10::Device device) { (void)device; }
  // True when the network's classifier is trained (its accuracy means something).
  virtual bool trains_classifier() const { return false; }
  // Data-parallel training: loss() gathers the rows of every rank's batch
  // part (the logits, or the embeddings with their labels and tuple rows;
  // dist::gather_rows) and computes the loss of the whole global batch, the
  // same value on every rank, mining the same tuples as one process would.
  // Each rank's backward then gives the gradient through its own rows; the
  // sum over the ranks is the one-process gradient (dist::Reduce::Sum).
  void gather_across(std::shared_ptr<dist::Communicator> group) { group_ = std::move(group); }

 protected:
  std::shared_ptr<dist::Communicator> group_;  // null: one process
};

// The miner a run uses: config.miner, else the method's default miner
// (registry.hpp: batch-hard for triplet and quadruplet, all pairs for
// siamese); "offline" for offline tuples; "-" where the method mines nothing
// (classification, proxy-anchor, multi-similarity without one).
std::string effective_miner(const TrainConfig& config);

// The classifier's loss on `logits` (N x C): cross-entropy for N class
// indices (correct = argmax is the label); for N x C object counts binary
// cross-entropy with logits on the multi-hot targets (count > 0), correct =
// the predicted set (logit > 0) is exactly the true set.
StepLoss classification_loss(const at::Tensor& logits, const at::Tensor& labels);

// The config's positive_overlap and negatives as a LabelRelation.
LabelRelation label_relation(const TrainConfig& config);

// Pair or triplet tuples of batch rows (T x 2 or T x 3) for a loss: pairs
// split into positive and negative ones by their labels.
Pairs pairs_from_rows(const at::Tensor& rows, const at::Tensor& labels);
Triplets triplets_from_rows(const at::Tensor& rows);

// The method's objective (its descriptor's loss, with its miner). UsageError
// for an unknown method, miner or distance.
std::unique_ptr<Objective> make_objective(const TrainConfig& config, int64_t num_classes, int64_t embedding_dim);

}  // namespace imret::learn
