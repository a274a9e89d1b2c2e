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
#include "imret/cli/run_names.hpp"
#include "imret/core/atomic_file.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/runtime.hpp"
#include "imret/core/yaml.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/idx.hpp"
#include "imret/learn/run_folder.hpp"
#include "imret/learn/trainer.hpp"
#include "imret/viz/plot.hpp"
#include "imret/viz/run_report.hpp"

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
  bool report = true;
  learn::TrainConfig config = demo_config();
  // Classification-trained features rank better by angle than by length.
  std::string metric = "cosine";
};

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
  config.validate();
  // The demo's run is built aside and replaces the previous demo run only when complete.
  OutputFolder out(run_dir, learn::run_folder_rules("demo", "demo", true, "", {args.data}));
  write_file_atomic(out.path() / "config.yaml",
                    to_yaml({{"command", "demo"}, {"data", args.data}, {"quick", args.quick}, {"metric", args.metric},
                             {"train", config.to_json()}}));

  RetrievalRunRequest request;
  request.data = args.data;
  request.train_set = train_set;
  request.query_set = test_set;
  request.metric = search::parse_metric(args.metric);
  if (args.quick) {
    request.database_limit = 10000;
    request.query_limit = 1000;
  }
  train_embed_evaluate(config, request, out.path(), out.target());
  bool report = args.report && viz::has_plots();
  if (report) {
    std::printf("\n== report: metrics, curves, embedding maps, retrieval grids ==\n");
    try {
      viz::write_run_report({folder_name(run_dir), out.path(), out.target()}, out.path() / "report",
                            viz::ReportOptions{});
    } catch (const Error& e) {  // the run itself is complete: keep it, say what is missing
      spdlog::warn("demo: no report: {}", e.what());
      report = false;
    }
  } else if (args.report) {
    spdlog::warn("demo: no report: this build has no plots (cairo)");
  }
  out.publish();

  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\nrun directory %s (%s in all)\n", run_dir.string().c_str(), format_duration(seconds).c_str());
  std::printf("  config.yaml                    what was run\n");
  std::printf("  checkpoints/best.safetensors   the trained network (+ .json description)\n");
  std::printf("  train_log.csv                  loss and validation metrics per epoch\n");
  std::printf("  embeddings/database, queries   embeddings.npy + items.jsonl\n");
  std::printf("  metrics.json, pr_curve.csv     retrieval metrics and the mean precision-recall curve\n");
  if (report) std::printf("  report/index.html              the report: curves, embedding maps, retrieval grids\n");
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
  command->add_flag("!--no-report", args->report, "Skip the HTML report (report/index.html)");
  command->add_option("--epochs", args->config.epochs, "Training epochs")->capture_default_str();
  command->add_option("--seed", args->config.seed, "Random seed")->capture_default_str();
  command->add_option("--device", args->config.device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--metric", args->metric, "Retrieval distance: euclidean or cosine")->capture_default_str();
  command->callback([args] { run_demo(*args); });
}

}  // namespace imret::cli
