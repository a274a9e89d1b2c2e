// imret demo: the whole path on Fashion-MNIST in one command: train a
// classifier (ConvNet), embed the training set as the database and the test
// set as queries, evaluate the full ranking, and write a run directory.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/cli/pipeline.hpp"
#include "imret/core/atomic_file.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/runtime.hpp"
#include "imret/core/yaml.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/idx.hpp"
#include "imret/learn/trainer.hpp"

namespace imret::cli {
namespace {
namespace fs = std::filesystem;

// The demo's training: the ConvNet, Adam 1e-3 with a cosine schedule, 3 epochs.
learn::TrainConfig demo_config() {
  learn::TrainConfig config;
  config.schedule = "cosine";
  return config;
}

struct DemoArgs {
  std::string data = data::kDefaultFashionMnist;
  std::string out = "runs/demo";
  bool quick = false;
  learn::TrainConfig config = demo_config();
  // Classification-trained features rank better by angle than by length.
  std::string metric = "cosine";
};

// A stratified part of `dataset` of about `count` items (all when count <= 0).
std::shared_ptr<const data::Dataset> stratified_part(std::shared_ptr<const data::Dataset> dataset, int64_t count,
                                                     uint64_t seed) {
  if (count <= 0 || count >= dataset->size()) return dataset;
  const double dropped = 1.0 - static_cast<double>(count) / static_cast<double>(dataset->size());
  return data::subset(dataset, data::stratified_split(*dataset, dropped, seed).first);
}

void run_demo(DemoArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path run_dir = args.out;
  learn::TrainConfig& config = args.config;
  if (args.quick) {
    config.epochs = 1;
    config.limit = 6000;
  }
  auto train_set = data::open_dataset(args.data, "train");
  auto test_set = data::open_dataset(args.data, "test", train_set->classes());
  PreprocessArgs preprocess;
  config.preprocess = preprocess.resolve(train_set->channels());
  write_file_atomic(run_dir / "config.yaml",
                    to_yaml({{"command", "demo"}, {"data", args.data}, {"quick", args.quick}, {"metric", args.metric},
                             {"train", config.to_json()}}));

  std::printf("== 1/3 train: %s, method %s, %lld epochs ==\n", config.network.arch.c_str(), config.method.c_str(),
              static_cast<long long>(config.epochs));
  learn::TrainResult trained = learn::train_classifier(config, train_set, run_dir);
  print_training_summary(trained, run_dir);

  std::printf("\n== 2/3 embed: database = train split, queries = test split ==\n");
  const fs::path checkpoint = trained.best_checkpoint;
  models::LoadedNetwork loaded = models::load_checkpoint(checkpoint);
  models::EmbedOptions options;
  options.batch_size = 512;
  options.workers = config.workers;
  options.device = parse_device(config.device);
  auto database_set = stratified_part(train_set, args.quick ? 10000 : 0, config.seed);
  auto query_set = stratified_part(test_set, args.quick ? 1000 : 0, config.seed);
  options.label = "embed database";
  const std::string checkpoint_path = fs::absolute(checkpoint).string();
  embed_to_folder(loaded, database_set, {{"data", args.data}, {"split", "train"}, {"checkpoint", checkpoint_path}},
                  options, run_dir / "embeddings" / "database");
  options.label = "embed queries";
  embed_to_folder(loaded, query_set, {{"data", args.data}, {"split", "test"}, {"checkpoint", checkpoint_path}},
                  options, run_dir / "embeddings" / "queries");

  std::printf("\n== 3/3 evaluate: every query against the whole database (full ranking) ==\n");
  EvaluationRequest request;
  request.metric = search::parse_metric(args.metric);
  request.device = config.device;
  const EmbeddingSet database = load_embedding_set(run_dir / "embeddings" / "database");
  const EmbeddingSet queries = load_embedding_set(run_dir / "embeddings" / "queries");
  const EvaluationOutcome outcome = evaluate_to_folder(queries, database, request, run_dir);
  print_metrics(outcome);

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\nrun directory %s (%s in all)\n", run_dir.string().c_str(), format_duration(seconds).c_str());
  std::printf("  config.yaml                    what was run\n");
  std::printf("  checkpoints/best.safetensors   the trained network (+ .json description)\n");
  std::printf("  train_log.csv                  loss and validation metrics per epoch\n");
  std::printf("  embeddings/database, queries   embeddings.npy + items.jsonl\n");
  std::printf("  metrics.json, pr_curve.csv     retrieval metrics and the mean precision-recall curve\n");
  std::printf("next: imret search -d %s/embeddings/database -q %s/embeddings/queries --first 3\n",
              run_dir.string().c_str(), run_dir.string().c_str());
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* command = app.add_subcommand(
      "demo", "Train, embed, evaluate on Fashion-MNIST (the bundled data) and write a run directory");
  command->add_option("--data", args->data, "Fashion-MNIST (IDX) folder or an image folder")->capture_default_str();
  command->add_option("-o,--out", args->out, "Run directory")->capture_default_str();
  command->add_flag("--quick", args->quick, "1 epoch on 6k images, 10k database, 1k queries (about a minute)");
  command->add_option("--epochs", args->config.epochs, "Training epochs")->capture_default_str();
  command->add_option("--seed", args->config.seed, "Random seed")->capture_default_str();
  command->add_option("--device", args->config.device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--metric", args->metric, "Retrieval distance: euclidean or cosine")->capture_default_str();
  command->callback([args] { run_demo(*args); });
}

}  // namespace imret::cli
