#include "imret/learn/training_hooks.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <sstream>
#include <unordered_map>

#include "imret/core/atomic_file.hpp"
#include "imret/data/random.hpp"
#include "imret/data/transforms.hpp"
#include "imret/data/tuple_sampler.hpp"
#include "imret/eval/evaluate.hpp"
#include "imret/eval/relevance.hpp"
#include "imret/learn/checkpoint_unit.hpp"
#include "imret/learn/data_parallel.hpp"
#include "imret/learn/registry.hpp"
#include "imret/learn/trainer.hpp"
#include "imret/models/embed.hpp"

namespace imret::learn {
namespace fs = std::filesystem;

namespace {

// The rows of `tuples` among embedded items (`indices`: the item of each row).
at::Tensor rows_of(const std::vector<std::vector<int64_t>>& tuples, const std::vector<int64_t>& indices) {
  std::unordered_map<int64_t, int64_t> row;
  for (size_t r = 0; r < indices.size(); ++r) row[indices[r]] = static_cast<int64_t>(r);
  std::vector<int64_t> flat;
  int64_t count = 0;
  for (const auto& tuple : tuples) {
    if (!std::all_of(tuple.begin(), tuple.end(), [&](int64_t i) { return row.count(i) > 0; })) continue;
    for (int64_t i : tuple) flat.push_back(row.at(i));
    ++count;
  }
  const int64_t arity = tuples.empty() ? 2 : static_cast<int64_t>(tuples.front().size());
  return torch::tensor(flat, torch::kLong).reshape({count, arity});
}

void write_train_log(const fs::path& path, const std::vector<EpochRecord>& history) {
  std::ostringstream csv;
  csv << "epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,val_precision_at_1,val_map_at_r,seconds,"
         "images_per_second,tuples_per_batch,nonzero_fraction\n";
  for (const auto& r : history)
    csv << r.epoch << ',' << r.lr << ',' << r.train_loss << ',' << r.train_accuracy << ',' << r.val_loss << ','
        << r.val_accuracy << ',' << r.val_precision_at_1 << ',' << r.val_map_at_r << ',' << r.seconds << ','
        << r.images_per_second << ',' << r.tuples_per_batch << ',' << r.nonzero_fraction << '\n';
  write_file_atomic(path, csv.str());
}

}  // namespace

models::CheckpointInfo checkpoint_info(const TrainConfig& config, const std::vector<std::string>& classes,
                                       int64_t epoch) {
  models::CheckpointInfo info;
  info.spec = config.network;
  info.classes = classes;
  info.preprocess = config.preprocess.to_json();
  info.config = config.to_json();
  info.epoch = epoch;
  return info;
}

// ---------------------------------------------------------------- validation

ValidationHook::ValidationHook(const TrainConfig& config, std::shared_ptr<const data::Dataset> validation,
                               models::Network& network, Objective& objective, c10::Device device,
                               std::shared_ptr<dist::Communicator> group)
    : config_(config),
      validation_(std::move(validation)),
      network_(network),
      objective_(objective),
      device_(device),
      with_classifier_(objective.trains_classifier()),
      group_(std::move(group)) {
  if (config.tuples == "offline") {
    const bool pairs = find_method(config.method).tuples == TupleShape::Pairs;
    tuples_ = data::offline_tuples(validation_->labels(), pairs ? data::TupleKind::Pair : data::TupleKind::Triplet,
                                   data::derive_seed(config.seed, 0x76616c));
  }
}

void ValidationHook::measure(EpochRecord& record) {
  models::EmbedOptions options;
  options.batch_size = 512;
  options.workers = config_.workers;
  options.device = device_;
  options.label = "validate";
  options.channels_last = true;  // as trained
  options.precision = network_.precision();
  auto transform = data::make_eval_transform(config_.preprocess);
  const auto embed = [&](std::shared_ptr<const data::Dataset> part) {
    return models::embed_dataset(network_, part, transform, options);
  };
  models::Embeddings embedded = group_ ? split_embedding(*group_, validation_, embed) : embed(validation_);
  if (embedded.indices.size() < 2) return;
  const bool multi_label = validation_->has_objects();
  std::vector<int64_t> labels;
  std::vector<ObjectCounts> objects;
  for (int64_t i : embedded.indices) {
    labels.push_back(validation_->label(i));
    if (multi_label) objects.push_back(validation_->objects(i));
  }
  // What the objective compares: class indices, or multi-label object counts.
  torch::Tensor target = multi_label ? data::object_count_rows(*validation_, embedded.indices)
                                     : torch::tensor(labels, torch::kLong);
  if (with_classifier_) {
    torch::NoGradGuard no_grad;
    torch::Tensor logits = network_.classify(embedded.values.to(device_)).to(torch::kCPU);
    const StepLoss step = classification_loss(logits, target);
    record.val_loss = step.loss.item<double>();
    record.val_accuracy = static_cast<double>(step.correct) / static_cast<double>(logits.size(0));
  }
  if (config_.tuples == "offline") {
    torch::NoGradGuard no_grad;
    const at::Tensor rows = rows_of(tuples_, embedded.indices);
    if (rows.size(0) > 0)
      record.val_loss = objective_.loss_on_embeddings(embedded.values.clone(), target, rows).loss.item<double>();
  }
  // Multi-label: relevant = shares at least one class (COCO's selection criterion).
  std::unique_ptr<eval::Relevance> relevance;
  if (multi_label)
    relevance = std::make_unique<eval::ObjectRelevance>(objects, objects, eval::ObjectRelevanceMode::Selection,
                                                        /*exclude_self=*/true);
  else
    relevance = std::make_unique<eval::SameClassRelevance>(labels, labels, /*exclude_self=*/true);
  eval::MetricOptions metric_options;
  metric_options.ks = {1};
  auto evaluation = eval::evaluate_retrieval(embedded.values, embedded.values, retrieval_metric(config_), *relevance,
                                             metric_options, false, device_);
  record.val_precision_at_1 = evaluation.summary.precision_at_k.at(0);
  record.val_map_at_r = evaluation.summary.map_at_r;
}

// ---------------------------------------------------------------- log line

void LogHook::after_epoch(const EpochRecord& record, const std::vector<EpochRecord>&) {
  if (metric_learning_)
    spdlog::info("epoch {}: loss {:.4f}  tuples/batch {:.0f} ({:.1f}% non-zero)  {}val P@1 {:.4f}  val mAP@R {:.4f}  ({:.0f} img/s)",
                 record.epoch, record.train_loss, record.tuples_per_batch, 100.0 * record.nonzero_fraction,
                 std::isnan(record.val_loss) ? "" : fmt::format("val loss {:.4f}  ", record.val_loss),
                 record.val_precision_at_1, record.val_map_at_r, record.images_per_second);
  else
    spdlog::info("epoch {}: loss {:.4f}  train acc {:.4f}  val acc {:.4f}  val P@1 {:.4f}  val mAP@R {:.4f}  ({:.0f} img/s)",
                 record.epoch, record.train_loss, record.train_accuracy, record.val_accuracy,
                 record.val_precision_at_1, record.val_map_at_r, record.images_per_second);
}

// ---------------------------------------------------------------- best epoch, early stop

BestEpochHook::BestEpochHook(int64_t early_stop, const std::vector<EpochRecord>& history) : early_stop_(early_stop) {
  for (const auto& r : history) update(r);
}

void BestEpochHook::update(const EpochRecord& record) {
  const bool validated = !std::isnan(record.val_map_at_r);
  last_was_best_ = !validated || record.val_map_at_r > best_map_at_r_;
  if (!last_was_best_) {
    ++epochs_without_gain_;
    return;
  }
  if (validated) best_map_at_r_ = record.val_map_at_r;
  epochs_without_gain_ = 0;
}

bool BestEpochHook::before_epoch(int64_t) {
  if (early_stop_ <= 0 || epochs_without_gain_ < early_stop_) return true;
  spdlog::info("early stop: validation mAP@R has not improved for {} epochs (best {:.4f})", epochs_without_gain_,
               best_map_at_r_);
  return false;
}

void BestEpochHook::after_epoch(const EpochRecord& record, const std::vector<EpochRecord>&) { update(record); }

// ---------------------------------------------------------------- checkpoints

CheckpointHook::CheckpointHook(const TrainConfig& config, std::vector<std::string> classes, const fs::path& run_dir,
                               models::Network& network, Objective& objective, torch::optim::Optimizer& optimizer,
                               const BestEpochHook& best, c10::Device device)
    : config_(config),
      classes_(std::move(classes)),
      run_dir_(run_dir),
      network_(network),
      objective_(objective),
      optimizer_(optimizer),
      best_(best),
      device_(device) {}

fs::path CheckpointHook::last_checkpoint() const { return run_dir_ / "checkpoints" / "last.safetensors"; }
fs::path CheckpointHook::best_checkpoint() const { return run_dir_ / "checkpoints" / "best.safetensors"; }

void CheckpointHook::after_epoch(const EpochRecord& record, const std::vector<EpochRecord>& history) {
  models::CheckpointInfo info = checkpoint_info(config_, classes_, record.epoch);
  nlohmann::json records = nlohmann::json::array();
  for (const auto& r : history) records.push_back(r.to_json());
  info.metrics = {{"history", records}, {"last", record.to_json()}};
  network_.to(torch::kCPU);
  save_resume_unit(last_checkpoint(), network_, info, optimizer_, objective_.parameters());
  // With the unit id: a best checkpoint of the last epoch may be resumed from too.
  if (best_.last_was_best()) models::save_checkpoint(best_checkpoint(), network_, info);
  network_.to(device_);
  write_train_log(run_dir_ / "train_log.csv", history);
}

}  // namespace imret::learn
