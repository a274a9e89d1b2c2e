#include "imret/learn/trainer.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <sstream>
#include <unordered_map>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/runtime.hpp"
#include "imret/data/loader.hpp"
#include "imret/data/multilabel_sampler.hpp"
#include "imret/data/pk_sampler.hpp"
#include "imret/data/random.hpp"
#include "imret/data/tuple_sampler.hpp"
#include "imret/learn/checkpoint_unit.hpp"
#include "imret/learn/objective.hpp"
#include "imret/learn/optimizer.hpp"
#include "imret/learn/registry.hpp"
#include "imret/eval/evaluate.hpp"
#include "imret/eval/relevance.hpp"
#include "imret/core/tensor_file.hpp"
#include "imret/learn/freeze.hpp"
#include "imret/models/channels_last.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/models/pretrained.hpp"
#include "imret/models/embed.hpp"

namespace imret::learn {
namespace fs = std::filesystem;

namespace {

double json_number(const nlohmann::json& json, const char* key) {
  return json.contains(key) && json.at(key).is_number() ? json.at(key).get<double>() : NAN;
}

nlohmann::json number_or_null(double value) { return std::isnan(value) ? nlohmann::json() : nlohmann::json(value); }

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

// Validation: classifier accuracy and loss, and retrieval of the held-out
// items among themselves (each one a query against all the others).
// Offline runs: fixed validation tuples, the same every epoch, so that the
// validation loss of one epoch compares with the next.
struct ValidationTuples {
  Objective* objective = nullptr;
  std::vector<std::vector<int64_t>> tuples;  // indices into the validation split
};

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

void validate(models::Network& network, const Split& split, const TrainConfig& config, c10::Device device,
              bool with_classifier, const ValidationTuples& validation_tuples, EpochRecord& record) {
  models::EmbedOptions options;
  options.batch_size = 512;
  options.workers = config.workers;
  options.device = device;
  options.label = "validate";
  options.channels_last = true;  // as trained
  auto transform = data::make_eval_transform(config.preprocess);
  models::Embeddings embedded = models::embed_dataset(network, split.validation, transform, options);
  if (embedded.indices.size() < 2) return;
  const bool multi_label = split.validation->has_objects();
  std::vector<int64_t> labels;
  std::vector<ObjectCounts> objects;
  for (int64_t i : embedded.indices) {
    labels.push_back(split.validation->label(i));
    if (multi_label) objects.push_back(split.validation->objects(i));
  }
  // What the objective compares: class indices, or multi-label object counts.
  torch::Tensor target = multi_label ? data::object_count_rows(*split.validation, embedded.indices)
                                     : torch::tensor(labels, torch::kLong);
  if (with_classifier) {
    torch::NoGradGuard no_grad;
    torch::Tensor logits = network.classify(embedded.values.to(device)).to(torch::kCPU);
    const StepLoss step = classification_loss(logits, target);
    record.val_loss = step.loss.item<double>();
    record.val_accuracy = static_cast<double>(step.correct) / static_cast<double>(logits.size(0));
  }
  if (validation_tuples.objective) {
    torch::NoGradGuard no_grad;
    const at::Tensor rows = rows_of(validation_tuples.tuples, embedded.indices);
    if (rows.size(0) > 0)
      record.val_loss =
          validation_tuples.objective->loss_on_embeddings(embedded.values.clone(), target, rows).loss.item<double>();
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
  auto evaluation = eval::evaluate_retrieval(embedded.values, embedded.values, retrieval_metric(config), *relevance,
                                             metric_options, false, device);
  record.val_precision_at_1 = evaluation.summary.precision_at_k.at(0);
  record.val_map_at_r = evaluation.summary.map_at_r;
}

// The P x K batches of an epoch (PKSampler, or MultiLabelPKSampler for
// multi-label data), null for plain shuffled batches.
struct EpochPlanner {
  std::function<std::vector<std::vector<int64_t>>(int64_t)> batches;
  int64_t batch_size = 0;
  explicit operator bool() const { return static_cast<bool>(batches); }
};

EpochPlanner pk_planner(const TrainConfig& config, const data::Dataset& train) {
  EpochPlanner planner;
  if (train.has_objects()) {
    auto sampler = std::make_shared<data::MultiLabelPKSampler>(train.all_objects(), config.classes_per_batch,
                                                               config.images_per_class, config.seed);
    planner.batches = [sampler](int64_t epoch) { return sampler->epoch_batches(epoch); };
    planner.batch_size = sampler->batch_size();
  } else {
    auto sampler = std::make_shared<data::PKSampler>(train.labels(), config.classes_per_batch,
                                                     config.images_per_class, config.seed);
    planner.batches = [sampler](int64_t epoch) { return sampler->epoch_batches(epoch); };
    planner.batch_size = sampler->batch_size();
  }
  return planner;
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
  models::CheckpointInfo info;
  info.spec = config.network;
  info.classes = dataset.classes();
  info.preprocess = config.preprocess.to_json();
  info.config = config.to_json();
  info.epoch = 0;
  info.metrics = {{"history", nlohmann::json::array()}};
  result.last_checkpoint = run_dir / "checkpoints" / "last.safetensors";
  result.best_checkpoint = run_dir / "checkpoints" / "best.safetensors";
  network.to(torch::kCPU);
  models::save_checkpoint(result.last_checkpoint, network, info);
  models::save_checkpoint(result.best_checkpoint, network, info);
  spdlog::info("--epochs 0: saved the untrained network as {}", result.best_checkpoint.string());
  return result;
}

}  // namespace

search::Metric retrieval_metric(const TrainConfig& config) {
  if (find_method(config.method).trains_classifier) return search::Metric::Cosine;
  const DistanceDescriptor& distance = find_distance(config.distance);
  return config.normalize ? distance.normalized_metric : distance.raw_metric;
}

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

TrainResult train_embedding(const TrainConfig& config_in, std::shared_ptr<const data::Dataset> dataset,
                             const fs::path& run_dir, const fs::path& resume_from) {
  TrainConfig config = config_in;
  config.network.in_channels = dataset->channels();
  config.network.num_classes = static_cast<int64_t>(dataset->classes().size());
  config.validate();
  const MethodDescriptor& method = find_method(config.method);
  config.network.embedding_relu = method.trains_classifier;
  config.network.learned_metric = !method.trains_classifier && find_distance(config.distance).learned;
  config.network.normalize_before_metric = config.normalize;
  check_class_count(config, config.network.num_classes);
  const c10::Device device = parse_device(config.device);
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
      throw UsageError("--resume " + resume_from.string() + ": the checkpoint's network (" +
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
      throw UsageError("--resume " + resume_from.string() + ": the checkpoint has already completed " +
                       std::to_string(first_epoch) + " epochs; ask for more with --epochs");
    spdlog::info("resuming from {} after epoch {}", resume_from.string(), first_epoch);
  } else if (!config.weights.empty()) {
    start_from_weights(*network, config);
  }
  if (config.epochs == 0) return untrained_baseline(*network, config, *dataset, run_dir, result);
  const Freeze freeze = parse_freeze(config.freeze);
  const int64_t trainable = apply_freeze(*network, freeze);
  if (freeze != Freeze::None) spdlog::info("--freeze {}: {} trainable parameters", config.freeze, trainable);
  network->to(device);
  models::use_channels_last(*network);
  objective->to(device);
  const bool metric_learning = !objective->trains_classifier();
  const bool offline = config.tuples == "offline";
  const bool multi_label = dataset->has_objects();
  if (offline && multi_label)
    throw UsageError("--tuples offline needs single-label data; multi-label images (objects) train online");
  const data::TupleKind tuple_kind = method.tuples == TupleShape::Pairs ? data::TupleKind::Pair : data::TupleKind::Triplet;
  const int64_t arity = !offline ? 0 : tuple_kind == data::TupleKind::Pair ? 2 : 3;
  ValidationTuples validation_tuples;
  if (offline && split.validation) {
    validation_tuples.objective = objective.get();
    validation_tuples.tuples =
        data::offline_tuples(split.validation->labels(), tuple_kind, data::derive_seed(config.seed, 0x76616c));
  }
  EpochPlanner sampler;
  if (metric_learning && !offline) sampler = pk_planner(config, *split.train);

  data::LoaderOptions loader_options;
  loader_options.batch_size = config.batch_size;
  loader_options.shuffle = true;
  loader_options.drop_last = split.train->size() > config.batch_size;
  loader_options.seed = config.seed;
  loader_options.workers = config.workers;
  loader_options.on_bad_image = data::parse_bad_image_policy(config.on_bad_image);
  auto bad_images = std::make_shared<data::BadImageLog>();
  data::Loader loader(split.train, data::make_train_transform(config.preprocess, config.augment), loader_options,
                      bad_images);

  const fs::path checkpoints = run_dir / "checkpoints";
  result.last_checkpoint = checkpoints / "last.safetensors";
  result.best_checkpoint = checkpoints / "best.safetensors";
  const std::string pk = (multi_label ? "multi-label P x K = " : "P x K = ") +
                         std::to_string(config.classes_per_batch) + " x " + std::to_string(config.images_per_class) +
                         " batches";
  const std::string batches = sampler   ? pk
                               : offline ? "offline " + std::string(arity == 2 ? "pairs" : "triplets") + ", " +
                                               std::to_string(config.batch_size) + " a batch"
                                         : "batch " + std::to_string(config.batch_size);
  spdlog::info("training {} ({}) on {} images ({} held out for validation), {} classes, {} epochs, {}",
               config.network.arch, config.method, split.train->size(),
               split.validation ? split.validation->size() : 0, config.network.num_classes, config.epochs, batches);

  std::vector<torch::Tensor> parameters = network->parameters();
  for (auto& extra : objective->parameters()) parameters.push_back(extra);
  // The best checkpoint and early stopping follow the validation mAP@R (the
  // ranking, not one neighbour); without validation every epoch is the best so far.
  double best_map_at_r = -1;
  int64_t epochs_without_gain = 0;
  auto is_best = [&](const EpochRecord& r) {
    const bool validated = !std::isnan(r.val_map_at_r);
    if (validated && r.val_map_at_r <= best_map_at_r) {
      ++epochs_without_gain;
      return false;
    }
    if (validated) best_map_at_r = r.val_map_at_r;
    epochs_without_gain = 0;
    return true;
  };
  for (const auto& r : result.history) is_best(r);
  for (int64_t epoch = first_epoch; epoch < config.epochs; ++epoch) {
    if (config.early_stop > 0 && epochs_without_gain >= config.early_stop) {
      spdlog::info("early stop: validation mAP@R has not improved for {} epochs (best {:.4f})", epochs_without_gain,
                   best_map_at_r);
      break;
    }
    EpochRecord record;
    record.epoch = epoch + 1;
    record.lr = learning_rate_at(config, epoch);
    set_learning_rate(*optimizer, record.lr);
    objective->start_epoch(epoch);
    network->train();
    hold_frozen_batchnorm(*network, freeze);
    int64_t epoch_items = loader.items_per_epoch();
    std::vector<std::vector<int64_t>> planned;  // offline: the epoch's batches of tuples
    size_t planned_next = 0;
    if (offline) {
      planned = data::tuple_batches(
          data::offline_tuples(split.train->labels(), tuple_kind, data::derive_seed(config.seed, 0x747570, epoch)),
          config.batch_size);
      epoch_items = 0;
      for (const auto& b : planned) epoch_items += static_cast<int64_t>(b.size());
      loader.start_epoch(epoch, planned);
    } else if (sampler) {
      auto batches = sampler.batches(epoch);
      epoch_items = static_cast<int64_t>(batches.size()) * sampler.batch_size;
      loader.start_epoch(epoch, std::move(batches));
    } else {
      loader.start_epoch(epoch);
    }
    Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(config.epochs), epoch_items, "img");
    double loss_sum = 0;
    int64_t seen = 0, correct = 0, tuples = 0, nonzero = 0, batches_seen = 0;
    while (auto batch = loader.next()) {
      torch::Tensor images = models::channels_last(batch->images.to(device));
      // Multi-label data: the objective compares object counts (N x C).
      torch::Tensor labels = (multi_label ? batch->objects : batch->labels).to(device);
      torch::Tensor tuple_rows;
      if (offline) {
        // The planned tuples whose images were all delivered (bad ones skipped).
        std::optional<std::vector<std::vector<int64_t>>> rows;
        while (planned_next < planned.size() &&
               !(rows = data::tuple_rows(planned[planned_next], arity, batch->indices)))
          ++planned_next;
        if (!rows) throw Error("internal error: a batch does not match the planned tuples");
        ++planned_next;
        if (rows->empty()) continue;
        std::vector<int64_t> flat;
        for (const auto& tuple : *rows) flat.insert(flat.end(), tuple.begin(), tuple.end());
        tuple_rows = torch::tensor(flat, torch::kLong).reshape({static_cast<int64_t>(rows->size()), arity});
      }
      clear_gradients(*optimizer);
      StepLoss step = objective->loss(*network, images, labels, tuple_rows);
      if (step.loss.requires_grad()) step.loss.backward();
      if (config.clip_grad_norm > 0) torch::nn::utils::clip_grad_norm_(parameters, config.clip_grad_norm);
      optimizer->step();
      const int64_t n = images.size(0);
      loss_sum += step.loss.item<double>() * static_cast<double>(n);
      correct += std::max<int64_t>(step.correct, 0);
      tuples += std::max<int64_t>(step.tuples, 0);
      nonzero += std::max<int64_t>(step.nonzero, 0);
      ++batches_seen;
      seen += n;
      progress.set_status("loss " + std::to_string(loss_sum / static_cast<double>(seen)).substr(0, 6));
      progress.advance(n);
    }
    progress.finish();
    if (seen == 0) throw Error("no training image could be loaded (" + std::to_string(bad_images->count()) + " bad images)");
    record.seconds = progress.elapsed_seconds();
    record.images_per_second = static_cast<double>(seen) / record.seconds;
    record.train_loss = loss_sum / static_cast<double>(seen);
    if (metric_learning) {
      record.tuples_per_batch = static_cast<double>(tuples) / static_cast<double>(batches_seen);
      record.nonzero_fraction = tuples > 0 ? static_cast<double>(nonzero) / static_cast<double>(tuples) : 0.0;
    } else {
      record.train_accuracy = static_cast<double>(correct) / static_cast<double>(seen);
    }
    if (split.validation) validate(*network, split, config, device, !metric_learning, validation_tuples, record);
    result.history.push_back(record);
    if (metric_learning)
      spdlog::info("epoch {}: loss {:.4f}  tuples/batch {:.0f} ({:.1f}% non-zero)  {}val P@1 {:.4f}  val mAP@R {:.4f}  ({:.0f} img/s)",
                   record.epoch, record.train_loss, record.tuples_per_batch, 100.0 * record.nonzero_fraction,
                   std::isnan(record.val_loss) ? "" : fmt::format("val loss {:.4f}  ", record.val_loss),
                   record.val_precision_at_1, record.val_map_at_r, record.images_per_second);
    else
      spdlog::info("epoch {}: loss {:.4f}  train acc {:.4f}  val acc {:.4f}  val P@1 {:.4f}  val mAP@R {:.4f}  ({:.0f} img/s)",
                   record.epoch, record.train_loss, record.train_accuracy, record.val_accuracy,
                   record.val_precision_at_1, record.val_map_at_r, record.images_per_second);

    models::CheckpointInfo info;
    info.spec = config.network;
    info.classes = dataset->classes();
    info.preprocess = config.preprocess.to_json();
    info.config = config.to_json();
    info.epoch = epoch + 1;
    nlohmann::json history = nlohmann::json::array();
    for (const auto& r : result.history) history.push_back(r.to_json());
    info.metrics = {{"history", history}, {"last", record.to_json()}};
    network->to(torch::kCPU);
    save_resume_unit(result.last_checkpoint, *network, info, *optimizer, objective->parameters());
    // With the unit id: a best checkpoint of the last epoch may be resumed from too.
    if (is_best(record)) models::save_checkpoint(result.best_checkpoint, *network, info);
    network->to(device);
    write_train_log(run_dir / "train_log.csv", result.history);
  }
  result.bad_images = bad_images->count();
  if (result.bad_images > 0) {
    spdlog::warn("{} bad images were skipped:", result.bad_images);
    for (const auto& [path, reason] : bad_images->entries()) spdlog::warn("  {}: {}", path, reason);
  }
  return result;
}

}  // namespace imret::learn
