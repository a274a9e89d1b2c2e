#include "imret/learn/trainer.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "imret/core/precision.hpp"
#include "imret/core/error.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/core/runtime.hpp"
#include "imret/core/tensor_file.hpp"
#include "imret/learn/batch_source.hpp"
#include "imret/learn/checkpoint_unit.hpp"
#include "imret/learn/data_parallel.hpp"
#include "imret/dist/communicator.hpp"
#include "imret/learn/freeze.hpp"
#include "imret/learn/objective.hpp"
#include "imret/learn/optimizer.hpp"
#include "imret/learn/registry.hpp"
#include "imret/learn/training_hooks.hpp"
#include "imret/models/autocast.hpp"
#include "imret/models/channels_last.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/models/pretrained.hpp"
#include "imret/models/pooling.hpp"

namespace imret::learn {
namespace fs = std::filesystem;

namespace {

struct Split {
  std::shared_ptr<const data::Dataset> train;
  std::shared_ptr<const data::Dataset> validation;  // null without validation
};

Split split_dataset(const TrainConfig& config, std::shared_ptr<const data::Dataset> dataset) {
  if (config.limit > 0 && config.limit < dataset->size()) {
    const double dropped = 1.0 - static_cast<double>(config.limit) / static_cast<double>(dataset->size());
    dataset = data::subset(dataset, data::stratified_split(*dataset, dropped, config.seed).first);
  }
  if (config.val_fraction <= 0) return {dataset, nullptr};
  auto [kept, held_out] = data::stratified_split(*dataset, config.val_fraction, config.seed + 1);
  if (held_out.size() < 2) return {dataset, nullptr};
  return {data::subset(dataset, kept), data::subset(dataset, held_out)};
}

// Initialises the network from pretrained weights (e.g. torchvision's
// ImageNet ResNet). A classifier for another number of classes is not loaded:
// the new `fc` starts from its initialisation.
void start_from_weights(models::Network& network, const TrainConfig& config) {
  TensorFile weights = load_tensor_file(config.weights);
  models::WeightOptions options;
  options.prefix_rules = config.weights_prefix;
  models::apply_prefix_rules(weights, options.prefix_rules);
  options.prefix_rules.clear();
  // A learned metric map starts as the identity, whatever the file.
  if (network.has_metric_map()) options.ignored_prefixes.push_back("metric_map.");
  if (network.has_embedding_head()) options.ignored_prefixes.push_back("embedding_head.");
  const int64_t outputs = models::classifier_outputs(weights);
  if (outputs != config.network.num_classes) {
    options.ignored_prefixes.push_back("fc.");
    spdlog::info("{}: classifier fc not loaded (the file has {} outputs, this run {} classes)", config.weights,
                 outputs, config.network.num_classes);
  }
  models::load_pretrained(network, std::move(weights), config.weights, options);
  spdlog::info("started from the weights in {}", config.weights);
}

// --epochs 0: the network as initialised (or loaded with --weights) saved as
// the last and best checkpoints, a baseline for what training adds.
TrainResult untrained_baseline(models::Network& network, const TrainConfig& config, const data::Dataset& dataset,
                               const fs::path& run_dir, TrainResult result) {
  models::CheckpointInfo info = checkpoint_info(config, dataset.classes(), 0);
  info.metrics = {{"history", nlohmann::json::array()}};
  result.last_checkpoint = run_dir / "checkpoints" / "last.safetensors";
  result.best_checkpoint = run_dir / "checkpoints" / "best.safetensors";
  network.to(torch::kCPU);
  models::save_checkpoint(result.last_checkpoint, network, info);
  models::save_checkpoint(result.best_checkpoint, network, info);
  spdlog::info("0 epochs: saved the untrained network as {}", result.best_checkpoint.string());
  return result;
}

// Every rank needs a part of every batch.
void check_parts(const TrainConfig& config, int ranks) {
  if (ranks == 1) return;
  const bool pk = config.tuples != "offline" && !find_method(config.method).trains_classifier;
  const int64_t batch = pk ? config.classes_per_batch * config.images_per_class : config.batch_size;
  if (batch < ranks)
    throw SettingError(pk ? "images_per_class" : "batch_size",
                       " makes batches of " + std::to_string(batch) + ", fewer than the " + std::to_string(ranks) +
                           " processes that each train on a part of every batch");
}

}  // namespace

search::Metric retrieval_metric(const TrainConfig& config) {
  if (find_method(config.method).trains_classifier) return search::Metric::Cosine;
  const DistanceDescriptor& distance = find_distance(config.distance);
  return config.normalize ? distance.normalized_metric : distance.raw_metric;
}

TrainResult train_embedding(const TrainConfig& config_in, std::shared_ptr<const data::Dataset> dataset,
                             const fs::path& run_dir, const fs::path& resume_from,
                             std::shared_ptr<dist::Communicator> group) {
  TrainConfig config = config_in;
  config.network.in_channels = dataset->channels();
  config.network.num_classes = static_cast<int64_t>(dataset->classes().size());
  config.validate();
  config.network.pool = models::parse_pool(config.network.pool, "pool").to_string();
  const MethodDescriptor& method = find_method(config.method);
  config.network.embedding_relu = method.trains_classifier;
  config.network.learned_metric = !method.trains_classifier && find_distance(config.distance).learned;
  config.network.normalize_before_metric = config.normalize;
  check_class_count(config, config.network.num_classes);
  const BatchPart part = group ? BatchPart{group->rank(), group->world_size()} : BatchPart{};
  const bool writes = part.rank == 0;  // rank 0 alone writes the run folder and logs
  check_parts(config, part.ranks);
  const c10::Device device = parse_device(config.device);
  const Precision precision = parse_precision(config.precision);  // checked against the device by validate()
  torch::manual_seed(config.seed);

  const Split split = split_dataset(config, dataset);
  std::shared_ptr<models::Network> network = models::make_network(config.network);
  std::unique_ptr<Objective> objective =
      make_objective(config, config.network.num_classes, network->embedding_dim());
  auto optimizer = make_optimizer(config, *network, *objective);
  TrainResult result;
  int64_t first_epoch = 0;
  if (!resume_from.empty()) {
    models::LoadedNetwork loaded = models::load_checkpoint(resume_from);
    if (loaded.info.spec.to_json() != config.network.to_json())
      throw SettingError("resume", " " + resume_from.string() + ": the checkpoint's network (" +
                       loaded.info.spec.to_json().dump() + ") differs from this run's (" +
                       config.network.to_json().dump() + ")");
    network = loaded.network;
    optimizer = make_optimizer(config, *network, *objective);
    std::vector<torch::Tensor> own = objective->parameters();
    load_resume_unit(resume_from, loaded.info, *optimizer, own);
    first_epoch = loaded.info.epoch;
    for (const auto& r : loaded.info.metrics.value("history", nlohmann::json::array()))
      result.history.push_back(EpochRecord::from_json(r));
    if (first_epoch >= config.epochs)
      throw SettingError("resume", " " + resume_from.string() + ": the checkpoint has already completed " +
                                       std::to_string(first_epoch) + " epochs; ask for more with " +
                                       SettingError::mention("epochs"));
    spdlog::info("resuming from {} after epoch {}", resume_from.string(), first_epoch);
  } else if (!config.weights.empty()) {
    start_from_weights(*network, config);
  }
  if (config.epochs == 0) {
    if (writes) return untrained_baseline(*network, config, *dataset, run_dir, result);
    return result;
  }
  const Freeze freeze = parse_freeze(config.freeze);
  const int64_t trainable = apply_freeze(*network, freeze);
  if (freeze != Freeze::None) spdlog::info("frozen ({}): {} trainable parameters", config.freeze, trainable);
  network->to(device);
  network->set_precision(precision);
  models::use_fastest_convolutions(device);
  models::use_channels_last(*network);
  objective->to(device);
  auto bad_images = std::make_shared<data::BadImageLog>();
  std::unique_ptr<BatchSource> batches = make_batch_source(config, split.train, device, bad_images, part);
  if (group) {
    batches = in_step_across_ranks(std::move(batches), group);
    objective->gather_across(group);
    if (config.sync_batch_norm) models::synchronize_batch_norm(*network, statistics_sum(group));
  }
  spdlog::info("training {} ({}) on {} images ({} held out for validation), {} classes, {} epochs, {}{}",
               config.network.arch, config.method, split.train->size(),
               split.validation ? split.validation->size() : 0, config.network.num_classes, config.epochs,
               batches->description(),
               group ? fmt::format(", {} processes (each its part of every batch)", part.ranks) : "");

  StandardStep step(config, *network, *objective, *optimizer, group);
  std::unique_ptr<ValidationHook> validation;
  if (split.validation)
    validation = std::make_unique<ValidationHook>(config, split.validation, *network, *objective, device, group);
  const bool metric_learning = !objective->trains_classifier();
  LogHook log(metric_learning);
  BestEpochHook best(config.early_stop, result.history);
  CheckpointHook checkpoints(config, dataset->classes(), run_dir, *network, *objective, *optimizer, best, device);
  result.last_checkpoint = checkpoints.last_checkpoint();
  result.best_checkpoint = checkpoints.best_checkpoint();
  std::vector<EpochHook*> hooks = {&best};
  if (writes) hooks = {&log, &best, &checkpoints};
  if (validation) hooks.insert(hooks.begin(), validation.get());
  run_epochs({first_epoch, config.epochs, metric_learning}, *batches, step, hooks, result.history);
  if (group) {
    group->barrier();  // every rank done: rank 0's last checkpoint is written
    double training_seconds = 0;
    for (size_t e = static_cast<size_t>(first_epoch); e < result.history.size(); ++e)
      training_seconds += result.history[e].seconds;
    spdlog::info("rank {}: {:.2f} s blocked in exchanges with the other ranks ({:.1f}% of {:.1f} s of training)",
                 part.rank, group->seconds_waiting(),
                 training_seconds > 0 ? 100.0 * group->seconds_waiting() / training_seconds : 0.0, training_seconds);
  }
  result.bad_images = bad_images->count();
  if (result.bad_images > 0) {
    spdlog::warn("{} bad images were skipped:", result.bad_images);
    for (const auto& [path, reason] : bad_images->entries()) spdlog::warn("  {}: {}", path, reason);
  }
  return result;
}

}  // namespace imret::learn
