#include "imret/cli/common.hpp"

#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "imret/core/error.hpp"
#include "imret/core/yaml.hpp"
#include "imret/learn/registry.hpp"
#include "imret/models/pooling.hpp"

#include <cmath>

namespace imret::cli {

void PreprocessArgs::add_options(CLI::App& command) {
  command.add_option("--resize", resize, "Resize the shorter side to this (default: 256 for colour images, none for grey)");
  command.add_option("--crop", crop, "Center crop (random resized crop with --augment) to this (default: 224 for colour images)");
  command.add_option("--mean", mean, "Normalisation mean per channel (default: ImageNet's for colour, Fashion-MNIST's for grey)")
      ->delimiter(',');
  command.add_option("--std", std, "Normalisation std per channel")->delimiter(',');
}

void add_network_options(CLI::App& command, models::NetworkSpec& spec) {
  command.add_option("--arch", spec.arch, "Network: convnet (28x28 grey), resnet18, resnet34, resnet50, resnet101")
      ->check(CLI::IsMember(models::known_architectures()))
      ->capture_default_str();
  command.add_option("--embedding-dim", spec.embedding_dim, "Embedding size (convnet)")->capture_default_str();
  command.add_option("--pool", spec.pool,
                     std::string("Resnets: how the last feature map becomes the embedding: ") + models::pool_names() +
                         " (GeM's p is learned in training)")
      ->capture_default_str();
  command.add_option("--head-dim", spec.head_dim,
                     "Metric learning: a linear embedding head of this size on the network's features (0: none), "
                     "e.g. on a frozen ImageNet ResNet (--freeze backbone)")
      ->capture_default_str();
}

void add_training_options(CLI::App& command, learn::TrainConfig& c) {
  command.add_option("--method", c.method, learn::methods_help())
      ->check(CLI::IsMember(learn::method_names()))
      ->capture_default_str();
  command.add_option("--distance", c.distance, learn::distances_help())
      ->check(CLI::IsMember(learn::distance_names()))
      ->capture_default_str();
  command.add_option("--miner", c.miner, learn::miners_help());
  command.add_option("--tuples", c.tuples,
                     "online: P x K batches with a miner; offline: a pair (siamese) or triplet dataset, one tuple per "
                     "image, --batch-size tuples a batch")
      ->check(CLI::IsMember({"online", "offline"}))
      ->capture_default_str();
  command.add_option("--margin", c.margin, "Triplet/quadruplet margin; contrastive negative margin")->capture_default_str();
  command.add_flag("--soft-margin", c.soft_margin, "Triplet: soft margin log(1 + exp(d_ap - d_an)) instead of the hinge");
  command.add_option("--pos-margin", c.pos_margin, "Contrastive positive margin")->capture_default_str();
  command.add_flag("!--no-normalize", c.normalize, "Metric learning on raw embeddings (default: L2-normalised)");
  command.add_option("--positive-overlap", c.positive_overlap,
                     "Multi-label (COCO): positives need a Jaccard overlap of their classes >= this (0: share a class)")
      ->capture_default_str();
  command.add_option("--negatives", c.negatives,
                     "Multi-label: disjoint (share no class) or below-overlap (every pair that is not positive)")
      ->check(CLI::IsMember({"disjoint", "below-overlap"}))
      ->capture_default_str();
  command.add_option("--classes-per-batch", c.classes_per_batch, "Metric learning: P classes per batch")->capture_default_str();
  command.add_option("--images-per-class", c.images_per_class, "Metric learning: K images per class in a batch")
      ->capture_default_str();
  command.add_option("--epochs", c.epochs, "Epochs")->capture_default_str();
  command.add_option("--batch-size", c.batch_size, "Batch size")->capture_default_str();
  command.add_option("--optimizer", c.optimizer, "adam or sgd")->capture_default_str();
  command.add_option("--lr", c.lr, "Learning rate")->capture_default_str();
  command.add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str();
  command.add_option("--weight-decay", c.weight_decay, "Weight decay")->capture_default_str();
  command.add_option("--schedule", c.schedule, "LR schedule: none, step, cosine")->capture_default_str();
  command.add_option("--step-size", c.step_size, "step schedule: epochs between LR drops")->capture_default_str();
  command.add_option("--gamma", c.gamma, "step schedule: LR factor")->capture_default_str();
  command.add_option("--clip-grad-norm", c.clip_grad_norm, "Clip the gradients' total L2 norm (0: off)")
      ->capture_default_str();
  command.add_option("--early-stop", c.early_stop,
                     "Stop after this many epochs without a better validation mAP@R (0: off)")
      ->capture_default_str();
  command.add_option("--val-fraction", c.val_fraction, "Fraction of each class held out for validation")->capture_default_str();
  command.add_option("--limit", c.limit, "Train on at most this many images (stratified; 0: all)")->capture_default_str();
  command.add_flag("--augment", c.augment, "Random resized crop + horizontal flip");
  command.add_option("--seed", c.seed, "Random seed")->capture_default_str();
  command.add_option("--workers", c.workers, "Data loader threads")->capture_default_str();
  command.add_option("--device", c.device, "cpu, cuda or cuda:N")->capture_default_str();
  add_precision_option(command, c.precision);
  command.add_option("--on-bad-image", c.on_bad_image, "skip (and report) or fail")
      ->check(CLI::IsMember({"skip", "fail"}))
      ->capture_default_str();
  command.add_option("--weights", c.weights, "Start from these weights (torchvision .pth, zip or legacy, or safetensors)");
  add_weights_prefix_option(command, c.weights_prefix);
  command.add_option("--freeze", c.freeze, "With --weights: none, backbone (train fc only) or all-but-last")
      ->check(CLI::IsMember({"none", "backbone", "all-but-last"}))
      ->capture_default_str();
  command.add_flag("--sync-batch-norm", c.sync_batch_norm,
                   "Distributed training: batch norm over the whole batch of all processes (SyncBatchNorm)");
}

void add_precision_option(CLI::App& command, std::string& precision) {
  command
      .add_option("--precision", precision,
                  "fp32, tf32 (CUDA), bf16 or fp16 (CUDA): the backbone's arithmetic; see docs/gpu.md")
      ->capture_default_str();
}

nlohmann::json given_training_settings(const CLI::App& command, const learn::TrainConfig& config) {
  const nlohmann::json values = config.to_json();
  nlohmann::json given = nlohmann::json::object();
  for (const CLI::Option* option : command.get_options()) {
    if (option->count() == 0) continue;
    std::string key = option->get_single_name();
    std::replace(key.begin(), key.end(), '-', '_');
    if (key == "no_normalize") key = "normalize";
    if (key == "arch" || key == "embedding_dim" || key == "head_dim" || key == "pool")
      given[key] = values.at("network").value(key, nlohmann::json(0));  // flat: TrainConfig::from_settings nests it
    else if (values.contains(key))
      given[key] = values.at(key);
  }
  return given;
}

nlohmann::json load_training_settings(const std::filesystem::path& path) {
  nlohmann::json settings = load_yaml(path);
  if (settings.is_object() && settings.contains("train")) settings = settings.at("train");
  if (!settings.is_object()) throw UsageError(path.string() + ": expected a mapping of training settings");
  return settings;
}

void add_weights_prefix_option(CLI::App& command, std::vector<std::string>& rules) {
  command.add_option("--weights-prefix", rules,
                     "Rename the weights' keys: PREFIX strips it (e.g. module.), +PREFIX adds it; repeatable");
}

void print_training_summary(const learn::TrainResult& result, const std::filesystem::path& run_dir) {
  const bool metric = !result.history.empty() && !std::isnan(result.history.front().tuples_per_batch);
  if (metric)
    std::printf("\nepoch  loss    tuples/batch  non-zero  val_P@1  val_mAP@R  img/s\n");
  else
    std::printf("\nepoch  loss    train_acc  val_acc  val_P@1  val_mAP@R  img/s\n");
  for (const auto& r : result.history) {
    if (metric)
      std::printf("%5lld  %.4f  %12.0f  %7.1f%%  %.4f   %.4f     %.0f\n", static_cast<long long>(r.epoch), r.train_loss,
                  r.tuples_per_batch, 100.0 * r.nonzero_fraction, r.val_precision_at_1, r.val_map_at_r,
                  r.images_per_second);
    else
      std::printf("%5lld  %.4f  %.4f     %.4f   %.4f   %.4f     %.0f\n", static_cast<long long>(r.epoch), r.train_loss,
                  r.train_accuracy, r.val_accuracy, r.val_precision_at_1, r.val_map_at_r, r.images_per_second);
  }
  std::printf("\nrun directory:   %s\nlast checkpoint: %s\nbest checkpoint: %s\ntraining log:    %s\n",
              run_dir.string().c_str(), result.last_checkpoint.string().c_str(),
              result.best_checkpoint.string().c_str(), (run_dir / "train_log.csv").string().c_str());
  if (result.bad_images > 0) std::printf("bad images skipped: %lld\n", static_cast<long long>(result.bad_images));
}

std::vector<int> parse_ks(const std::string& text, const std::string& option) {
  std::vector<int> ks;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    try {
      size_t used = 0;
      const int k = std::stoi(part, &used);
      if (used != part.size() || k < 1) throw std::invalid_argument(part);
      ks.push_back(k);
    } catch (const std::exception&) {
      throw UsageError(option + " " + text + ": expected positive integers separated by commas");
    }
  }
  if (ks.empty()) throw UsageError(option + ": expected at least one value");
  return ks;
}

}  // namespace imret::cli
