#include "imret/learn/training_loop.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <string>

#include "imret/core/error.hpp"
#include "imret/core/precision.hpp"
#include "imret/core/progress.hpp"
#include "imret/dist/gradient_sync.hpp"
#include "imret/learn/freeze.hpp"
#include "imret/learn/optimizer.hpp"

namespace imret::learn {
namespace {

double json_number(const nlohmann::json& json, const char* key) {
  return json.contains(key) && json.at(key).is_number() ? json.at(key).get<double>() : NAN;
}

nlohmann::json number_or_null(double value) { return std::isnan(value) ? nlohmann::json() : nlohmann::json(value); }

// What an epoch's steps add up to.
struct EpochTotals {
  double loss_sum = 0;  // loss x images
  int64_t seen = 0, correct = 0, tuples = 0, nonzero = 0, batches = 0;

  void add(const StepLoss& step, int64_t batch_images) {
    const int64_t images = step.images >= 0 ? step.images : batch_images;
    loss_sum += step.loss.item<double>() * static_cast<double>(images);
    correct += std::max<int64_t>(step.correct, 0);
    tuples += std::max<int64_t>(step.tuples, 0);
    nonzero += std::max<int64_t>(step.nonzero, 0);
    ++batches;
    seen += images;
  }
};

// One epoch's training part; fills the record's training fields.
void train_epoch(int64_t epoch, const EpochLoopOptions& options, BatchSource& source, TrainingStep& step,
                 EpochRecord& record) {
  const int64_t planned = source.start_epoch(epoch);
  Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(options.epochs), planned, "img");
  EpochTotals totals;
  while (std::optional<TrainingBatch> batch = source.next()) {
    const int64_t n = batch->images.size(0);
    totals.add(step.run(*batch), n);
    progress.set_status("loss " + std::to_string(totals.loss_sum / static_cast<double>(totals.seen)).substr(0, 6));
    progress.advance(n);
  }
  progress.finish();
  if (totals.seen == 0)
    throw Error("no training image could be loaded (" + std::to_string(source.bad_images()) + " bad images)");
  record.seconds = progress.elapsed_seconds();
  record.images_per_second = static_cast<double>(totals.seen) / record.seconds;
  record.train_loss = totals.loss_sum / static_cast<double>(totals.seen);
  if (options.metric_learning) {
    record.tuples_per_batch = static_cast<double>(totals.tuples) / static_cast<double>(totals.batches);
    record.nonzero_fraction =
        totals.tuples > 0 ? static_cast<double>(totals.nonzero) / static_cast<double>(totals.tuples) : 0.0;
  } else {
    record.train_accuracy = static_cast<double>(totals.correct) / static_cast<double>(totals.seen);
  }
}

}  // namespace

nlohmann::json EpochRecord::to_json() const {
  return {{"epoch", epoch},
          {"lr", lr},
          {"train_loss", train_loss},
          {"train_accuracy", number_or_null(train_accuracy)},
          {"val_loss", number_or_null(val_loss)},
          {"val_accuracy", number_or_null(val_accuracy)},
          {"val_precision_at_1", number_or_null(val_precision_at_1)},
          {"val_map_at_r", number_or_null(val_map_at_r)},
          {"seconds", seconds},
          {"images_per_second", images_per_second},
          {"tuples_per_batch", number_or_null(tuples_per_batch)},
          {"nonzero_fraction", number_or_null(nonzero_fraction)}};
}

EpochRecord EpochRecord::from_json(const nlohmann::json& json) {
  EpochRecord r;
  r.epoch = json.at("epoch").get<int64_t>();
  r.lr = json_number(json, "lr");
  r.train_loss = json_number(json, "train_loss");
  r.train_accuracy = json_number(json, "train_accuracy");
  r.val_loss = json_number(json, "val_loss");
  r.val_accuracy = json_number(json, "val_accuracy");
  r.val_precision_at_1 = json_number(json, "val_precision_at_1");
  r.val_map_at_r = json_number(json, "val_map_at_r");
  r.seconds = json_number(json, "seconds");
  r.images_per_second = json_number(json, "images_per_second");
  r.tuples_per_batch = json_number(json, "tuples_per_batch");
  r.nonzero_fraction = json_number(json, "nonzero_fraction");
  return r;
}

StandardStep::StandardStep(const TrainConfig& config, models::Network& network, Objective& objective,
                           torch::optim::Optimizer& optimizer, std::shared_ptr<dist::Communicator> group)
    : config_(config), network_(network), objective_(objective), optimizer_(optimizer), group_(std::move(group)) {
  parameters_ = network.parameters();
  for (auto& extra : objective.parameters()) parameters_.push_back(extra);
  if (parse_precision(config.precision) == Precision::Fp16) scaler_ = std::make_unique<GradScaler>();
  if (!group_) return;
  // Every rank starts from rank 0's state, as DDP does.
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> state = parameters_;
  for (auto& buffer : network.buffers()) state.push_back(buffer);
  group_->broadcast(state, 0);
  network_sync_ = std::make_unique<dist::GradientSync>(group_, network.parameters(), dist::Reduce::Sum);
  if (!objective.parameters().empty())
    objective_sync_ = std::make_unique<dist::GradientSync>(group_, objective.parameters(), dist::Reduce::Average);
}

StandardStep::~StandardStep() = default;

void StandardStep::start_epoch(int64_t epoch, EpochRecord& record) {
  if (scaler_ && scaler_->skipped_steps() > reported_skips_) {
    spdlog::info("fp16: {} steps skipped so far for inf or NaN gradients (loss scale now {})",
                 scaler_->skipped_steps(), scaler_->scale());
    reported_skips_ = scaler_->skipped_steps();
  }
  record.lr = learning_rate_at(config_, epoch);
  set_learning_rate(optimizer_, record.lr);
  objective_.start_epoch(epoch);
  network_.train();
  hold_frozen_batchnorm(network_, parse_freeze(config_.freeze));
}

StepLoss StandardStep::run(const TrainingBatch& batch) {
  clear_gradients(optimizer_);
  StepLoss step = objective_.loss(network_, batch.images, batch.labels, batch.tuple_rows);
  if (step.loss.requires_grad()) (scaler_ ? scaler_->scale_loss(step.loss) : step.loss).backward();
  if (network_sync_) network_sync_->finish();
  if (objective_sync_) objective_sync_->finish();
  // Every rank holds the same summed gradients here, so all skip or step together.
  const bool finite = scaler_ ? scaler_->unscale(parameters_) : true;
  if (finite && config_.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(parameters_, config_.clip_grad_norm);
  if (finite) optimizer_.step();
  if (scaler_) scaler_->update(finite);
  if (group_) {
    // Batch norm's running statistics (and any other buffer) follow rank 0,
    // as DDP's broadcast_buffers; after the step, so that validation and
    // checkpoints see rank 0's on every rank.
    std::vector<at::Tensor> buffers = network_.buffers();
    if (!buffers.empty()) group_->broadcast(buffers, 0);
  }
  return step;
}

void run_epochs(const EpochLoopOptions& options, BatchSource& source, TrainingStep& step,
                const std::vector<EpochHook*>& hooks, std::vector<EpochRecord>& history) {
  for (int64_t epoch = options.first_epoch; epoch < options.epochs; ++epoch) {
    const bool go_on = std::all_of(hooks.begin(), hooks.end(), [&](EpochHook* h) { return h->before_epoch(epoch); });
    if (!go_on) break;
    EpochRecord record;
    record.epoch = epoch + 1;
    step.start_epoch(epoch, record);
    train_epoch(epoch, options, source, step, record);
    for (EpochHook* hook : hooks) hook->measure(record);
    history.push_back(record);
    for (EpochHook* hook : hooks) hook->after_epoch(history.back(), history);
  }
}

}  // namespace imret::learn
