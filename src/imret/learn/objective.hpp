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

#include "imret/learn/train_config.hpp"
#include "imret/models/network.hpp"

namespace imret::learn {

struct StepLoss {
  at::Tensor loss;
  int64_t correct = -1;  // classification: correctly classified images of the batch
  int64_t tuples = -1;   // metric learning: tuples the loss saw (after mining)
  int64_t nonzero = -1;  // ... and those with a non-zero loss
};

class Objective {
 public:
  virtual ~Objective() = default;
  virtual StepLoss loss(models::Network& network, const at::Tensor& images, const at::Tensor& labels) = 0;
  // Trainable tensors of the objective itself (e.g. proxies), to optimise too.
  virtual std::vector<at::Tensor> parameters() { return {}; }
  virtual void to(c10::Device device) { (void)device; }
  // True when the network's classifier is trained (its accuracy means something).
  virtual bool trains_classifier() const { return false; }
};

// The methods train_embedding knows, for help texts and errors.
const std::vector<std::string>& known_methods();

// The miner a run uses: config.miner, else the method's default (batch-hard
// for triplet and quadruplet, all pairs for siamese); "-" where the method
// mines nothing (classification, proxy-anchor, multi-similarity without one).
std::string effective_miner(const TrainConfig& config);

// UsageError for an unknown method, loss option, miner or distance.
std::unique_ptr<Objective> make_objective(const TrainConfig& config, int64_t num_classes, int64_t embedding_dim);

}  // namespace imret::learn
