#pragma once
// The standard epoch hooks of train_embedding (training_loop.hpp's EpochHook),
// in the order it runs them:
//   ValidationHook  validation metrics of the held-out split into the record;
//   LogHook         the epoch's log line;
//   BestEpochHook   the best epoch so far (validation mAP@R) and early stopping;
//   CheckpointHook  checkpoints/last.safetensors (+ optimizer state),
//                   best.safetensors when the epoch is the best, train_log.csv.
#include <c10/core/Device.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "imret/data/dataset.hpp"
#include "imret/learn/objective.hpp"
#include "imret/learn/train_config.hpp"
#include "imret/learn/training_loop.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/models/network.hpp"

namespace torch::optim {
class Optimizer;
}
namespace imret::dist {
class Communicator;
}

namespace imret::learn {

// What a checkpoint of the run records after `epoch` epochs (metrics empty).
models::CheckpointInfo checkpoint_info(const TrainConfig& config, const std::vector<std::string>& classes,
                                       int64_t epoch);

// Validation on a held-out split: the classifier's accuracy and loss
// (`with_classifier`), and retrieval of the held-out items among themselves
// (each one a query against all the others: P@1, mAP@R). Offline runs
// (config.tuples "offline"): the loss on fixed validation tuples (drawn once,
// so that one epoch's validation loss compares with the next).
// Data-parallel (`group`): each rank embeds its part of the split
// (split_embedding) and every rank measures the whole, so that all of them
// take the same early-stopping decision.
class ValidationHook : public EpochHook {
 public:
  // `network` and `objective` must outlive the hook.
  ValidationHook(const TrainConfig& config, std::shared_ptr<const data::Dataset> validation, models::Network& network,
                 Objective& objective, c10::Device device, std::shared_ptr<dist::Communicator> group = nullptr);
  void measure(EpochRecord& record) override;

 private:
  const TrainConfig& config_;
  std::shared_ptr<const data::Dataset> validation_;
  models::Network& network_;
  Objective& objective_;
  c10::Device device_;
  bool with_classifier_;
  std::shared_ptr<dist::Communicator> group_;
  std::vector<std::vector<int64_t>> tuples_;  // offline: indices into the validation split
};

// One line per epoch: loss, tuples (metric learning) or accuracy, validation, throughput.
class LogHook : public EpochHook {
 public:
  explicit LogHook(bool metric_learning) : metric_learning_(metric_learning) {}
  void after_epoch(const EpochRecord& record, const std::vector<EpochRecord>& history) override;

 private:
  bool metric_learning_;
};

// The best epoch follows the validation mAP@R (the ranking, not one
// neighbour); without validation every epoch is the best so far. With
// early_stop > 0, training stops before an epoch once that many epochs in a
// row were not better.
class BestEpochHook : public EpochHook {
 public:
  // `history`: the epochs of the run resumed (counted as if just run).
  BestEpochHook(int64_t early_stop, const std::vector<EpochRecord>& history);
  bool before_epoch(int64_t epoch) override;
  void after_epoch(const EpochRecord& record, const std::vector<EpochRecord>& history) override;
  // Whether the last epoch seen was the best so far.
  bool last_was_best() const { return last_was_best_; }

 private:
  void update(const EpochRecord& record);

  int64_t early_stop_;
  double best_map_at_r_ = -1;
  int64_t epochs_without_gain_ = 0;
  bool last_was_best_ = false;
};

// After each epoch: the resumable last checkpoint (with the optimizer's and
// the objective's state), the best checkpoint when `best` says so, and
// train_log.csv, in `run_dir`.
class CheckpointHook : public EpochHook {
 public:
  // The references must outlive the hook.
  CheckpointHook(const TrainConfig& config, std::vector<std::string> classes, const std::filesystem::path& run_dir,
                 models::Network& network, Objective& objective, torch::optim::Optimizer& optimizer,
                 const BestEpochHook& best, c10::Device device);
  void after_epoch(const EpochRecord& record, const std::vector<EpochRecord>& history) override;

  std::filesystem::path last_checkpoint() const;
  std::filesystem::path best_checkpoint() const;

 private:
  const TrainConfig& config_;
  std::vector<std::string> classes_;
  std::filesystem::path run_dir_;
  models::Network& network_;
  Objective& objective_;
  torch::optim::Optimizer& optimizer_;
  const BestEpochHook& best_;
  c10::Device device_;
};

}  // namespace imret::learn
