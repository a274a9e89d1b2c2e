#pragma once
// Everything that defines a training run. Stored in the run directory
// (config.yaml) and in every checkpoint, so a run can be resumed or redone.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/data/transforms.hpp"
#include "imret/models/network.hpp"

namespace imret::learn {

struct TrainConfig {
  std::string method = "classification";  // a method of registry.hpp (method_names())
  // Metric learning (every method but classification):
  // euclidean | squared-euclidean | cosine | mahalanobis (a learned linear map
  // L after the embedding, d = ||L(x - y)||: the network's metric map)
  std::string distance = "euclidean";
  std::string miner;                   // empty: the method's default (batch-hard for triplets, all pairs for siamese)
  double margin = 0.2;                 // triplet/quadruplet margin; contrastive negative margin
  double pos_margin = 0.0;             // contrastive positive margin
  bool soft_margin = false;            // triplet: log(1 + exp(d_ap - d_an)) instead of the hinge
  bool normalize = true;               // L2-normalise embeddings before the loss
  // Multi-label data (COCO; see label_relation.hpp): positive pairs share a
  // class (0) or have a Jaccard overlap of their class sets >= positive_overlap;
  // negatives: "disjoint" (share no class; pairs in between are ignored) or
  // "below-overlap" (every pair that is not positive). No effect on single labels.
  double positive_overlap = 0.0;
  std::string negatives = "disjoint";
  // online: P x K batches, tuples mined in each; offline: a siamese dataset
  // of pairs (half positive) or a triplet dataset, one tuple per training
  // image, drawn anew each epoch; batch_size tuples a batch (siamese, triplet).
  std::string tuples = "online";
  int64_t classes_per_batch = 10;      // P of the P x K batches
  int64_t images_per_class = 25;       // K
  models::NetworkSpec network;
  data::Preprocess preprocess;
  int64_t epochs = 3;
  int64_t batch_size = 128;
  std::string optimizer = "adam";  // adam | sgd
  double lr = 1e-3;
  double momentum = 0.9;      // sgd
  double weight_decay = 0.0;
  std::string schedule = "none";  // none | step | cosine
  int64_t step_size = 1;          // step: multiply lr by gamma every step_size epochs
  double gamma = 0.1;
  double clip_grad_norm = 0.0;  // clip the gradients' total L2 norm to this (0: no clipping)
  int64_t early_stop = 0;       // stop after this many epochs without a better validation mAP@R (0: never)
  double val_fraction = 0.1;  // held out of the training split, stratified, for per-epoch validation
  int64_t limit = 0;          // train on at most this many images (0: all), for quick runs
  bool augment = false;       // random resized crop + horizontal flip
  uint64_t seed = 0;
  int workers = 2;
  std::string device = "cpu";
  // fp32 | tf32 | bf16 | fp16 (core/precision.hpp): the backbone's forward
  // and backward; fp16 adds a gradient scaler (grad_scaler.hpp). The weights,
  // optimiser state and losses stay float32.
  std::string precision = "fp32";
  std::string on_bad_image = "skip";
  std::string weights;                       // start from these weights (.pth or safetensors)
  std::vector<std::string> weights_prefix;   // prefix rules for the weights' keys (models::WeightOptions)
  std::string freeze = "none";               // none | backbone | all-but-last
  // Data-parallel runs: batch norm normalises with the statistics of the
  // whole batch over the processes (models::BatchNorm's sum, as PyTorch's
  // SyncBatchNorm), so that N processes train exactly as one; off: each
  // process uses its part's statistics (DDP's default). No effect in one process.
  bool sync_batch_norm = false;

  // Throws UsageError naming the first bad value.
  void validate() const;
  nlohmann::json to_json() const;
  static TrainConfig from_json(const nlohmann::json& json);
  // From a user's settings file (YAML as JSON, keys as in to_json(); missing
  // keys keep their defaults). UsageError naming `source` for an unknown key
  // or a value of the wrong type.
  static TrainConfig from_settings(const nlohmann::json& settings, const std::string& source);
};

// Checks that `classes` (the training data's) can train `config`: throws
// UsageError for fewer than two, whatever the method. Metric learning finds no
// negatives in one class (online P x K batches and offline tuples cannot be
// drawn), and a classifier over one class has a constant loss of 0. Epochs 0
// (the untrained network, a baseline) trains nothing and passes.
void check_class_count(const TrainConfig& config, int64_t classes);

// Learning rate of `epoch` (0-based) under the config's schedule.
double learning_rate_at(const TrainConfig& config, int64_t epoch);

}  // namespace imret::learn
