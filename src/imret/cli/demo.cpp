// imret demo: the whole path on Fashion-MNIST in one command: train a
// classifier (ConvNet), embed the training set as the database and the test
// set as queries, evaluate the full ranking, and write a run directory.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "imret/cli/commands.hpp"
#include "imret/cli/run_printing.hpp"
#include "imret/core/progress.hpp"
#include "imret/pipeline/demo_job.hpp"

namespace imret::cli {
namespace {

struct DemoArgs {
  pipeline::DemoRequest request;
  std::string out = "runs/demo";
  std::string metric = "cosine";
};

void run_demo(const DemoArgs& args) {
  pipeline::DemoRequest request = args.request;
  request.metric = search::parse_metric(args.metric);
  request.out = args.out;
  RunPrinter printer;
  const pipeline::DemoOutcome outcome = pipeline::run_demo(request, printer);
  if (!outcome.report_problem.empty()) spdlog::warn("demo: no report: {}", outcome.report_problem);
  const std::string& run_dir = args.out;
  std::printf("\nrun directory %s (%s in all)\n", run_dir.c_str(), format_duration(outcome.seconds).c_str());
  std::printf("  config.yaml                    what was run\n");
  std::printf("  checkpoints/best.safetensors   the trained network (+ .json description)\n");
  std::printf("  train_log.csv                  loss and validation metrics per epoch\n");
  std::printf("  embeddings/database, queries   embeddings.npy + items.jsonl\n");
  std::printf("  metrics.json, pr_curve.csv     retrieval metrics and the mean precision-recall curve\n");
  if (outcome.report) std::printf("  report/index.html              the report: curves, embedding maps, retrieval grids\n");
  std::printf("next: imret search -d %s/embeddings/database -q %s/embeddings/queries --first 3\n", run_dir.c_str(),
              run_dir.c_str());
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  CLI::App* command = app.add_subcommand(
      "demo", "Train, embed, evaluate on Fashion-MNIST (the bundled data) and write a run directory");
  command->add_option("--data", args->request.data, "Fashion-MNIST (IDX) folder or an image folder")->capture_default_str();
  command->add_option("-o,--out", args->out, "Run directory")->capture_default_str();
  command->add_flag("--quick", args->request.quick, "1 epoch on 6k images, 10k database, 1k queries (about a minute)");
  command->add_flag("!--no-report", args->request.report, "Skip the HTML report (report/index.html)");
  command->add_option("--epochs", args->request.config.epochs, "Training epochs")->capture_default_str();
  command->add_option("--seed", args->request.config.seed, "Random seed")->capture_default_str();
  command->add_option("--device", args->request.config.device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--metric", args->metric, "Retrieval distance: euclidean or cosine")->capture_default_str();
  command->callback([args] { run_demo(*args); });
}

}  // namespace imret::cli
