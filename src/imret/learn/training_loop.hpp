#pragma once
// The training loop in three replaceable pieces:
//   BatchSource (batch_source.hpp)  what each epoch trains on;
//   TrainingStep                    one batch: forward, loss, backward, clip, optimizer step;
//   EpochHook                       around each epoch: validation, logging, best epoch
//                                   and early stopping, checkpoints (training_hooks.hpp).
// run_epochs() drives them; train_embedding (trainer.hpp) assembles the
// standard ones. A distributed or mixed-precision run replaces the step, or
// adds a hook, without copying the loop.
#include <ATen/core/Tensor.h>

#include <cmath>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "imret/learn/batch_source.hpp"
#include "imret/learn/grad_scaler.hpp"
#include "imret/learn/objective.hpp"
#include "imret/learn/train_config.hpp"

namespace torch::optim {
class Optimizer;
}
namespace imret::dist {
class Communicator;
class GradientSync;
}

namespace imret::learn {

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double lr = 0;
  double train_loss = 0;
  double train_accuracy = NAN;  // classification only
  double val_loss = NAN;
  double val_accuracy = NAN;
  double val_precision_at_1 = NAN;
  double val_map_at_r = NAN;
  double seconds = 0;            // training part of the epoch
  double images_per_second = 0;  // training throughput
  double tuples_per_batch = NAN;  // metric learning: tuples the loss saw per batch (after mining)
  double nonzero_fraction = NAN;  // ... and the fraction of them with a non-zero loss

  nlohmann::json to_json() const;
  static EpochRecord from_json(const nlohmann::json& json);
};

class TrainingStep {
 public:
  virtual ~TrainingStep() = default;
  // Before epoch `epoch` (0-based): sets up the epoch (learning rate, miners'
  // streams, training mode) and writes its learning rate into `record`.
  virtual void start_epoch(int64_t epoch, EpochRecord& record) = 0;
  // Trains on one batch; the loss (a scalar) and what the objective counted.
  virtual StepLoss run(const TrainingBatch& batch) = 0;
};

// The standard step: clear the gradients, the objective's loss, backward,
// clip the gradients' total norm (config.clip_grad_norm > 0), optimizer step.
// Each epoch: the config's learning-rate schedule, objective.start_epoch,
// network.train() with frozen batch norms held (config.freeze).
//
// Data-parallel (`group`, with an objective gathering across it): the
// parameters and buffers start as rank 0's; after each step the buffers
// (batch norm's running statistics) are broadcast from rank 0, as DDP's
// broadcast_buffers does (each rank's batch norm normalises with its own
// part's statistics); after backward the network's gradients are summed
// over the ranks and the objective's own averaged (dist::GradientSync), so
// clipping and the optimizer step see the same gradients on every rank.
class StandardStep : public TrainingStep {
 public:
  // The references must outlive the step.
  StandardStep(const TrainConfig& config, models::Network& network, Objective& objective,
               torch::optim::Optimizer& optimizer, std::shared_ptr<dist::Communicator> group = nullptr);
  ~StandardStep() override;
  void start_epoch(int64_t epoch, EpochRecord& record) override;
  StepLoss run(const TrainingBatch& batch) override;

 private:
  const TrainConfig& config_;
  models::Network& network_;
  Objective& objective_;
  torch::optim::Optimizer& optimizer_;
  std::vector<at::Tensor> parameters_;  // the network's and the objective's, for clipping
  std::shared_ptr<dist::Communicator> group_;
  std::unique_ptr<dist::GradientSync> network_sync_, objective_sync_;
  std::unique_ptr<GradScaler> scaler_;  // precision fp16 only
  int64_t reported_skips_ = 0;
};

class EpochHook {
 public:
  virtual ~EpochHook() = default;
  // Before epoch `epoch` (0-based) starts; false ends the training there.
  virtual bool before_epoch(int64_t epoch) {
    (void)epoch;
    return true;
  }
  // After the epoch's training, before its record joins the history: may fill
  // in more of it (validation).
  virtual void measure(EpochRecord& record) { (void)record; }
  // After the record joined `history` (its last entry).
  virtual void after_epoch(const EpochRecord& record, const std::vector<EpochRecord>& history) {
    (void)record;
    (void)history;
  }
};

struct EpochLoopOptions {
  int64_t first_epoch = 0;       // 0-based; > 0 when resuming
  int64_t epochs = 0;            // runs epochs first_epoch .. epochs - 1
  bool metric_learning = false;  // records tuples per batch (else the training accuracy)
};

// Runs the epochs: for each, the hooks' before_epoch (any false: stop), the
// step's start_epoch, one run() per batch of the source (with a progress
// bar), the epoch's record (training loss, accuracy or tuples, throughput),
// the hooks' measure, the record appended to `history`, the hooks'
// after_epoch; hooks in the order given. imret::Error when an epoch delivers
// no image.
void run_epochs(const EpochLoopOptions& options, BatchSource& source, TrainingStep& step,
                const std::vector<EpochHook*>& hooks, std::vector<EpochRecord>& history);

}  // namespace imret::learn
