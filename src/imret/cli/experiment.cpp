// imret experiment PLAN.yaml: trains a list of configurations on the same
// data split, seed and evaluation, and writes one comparison table
// (results.md, results.csv, results.json). Each row is a full run directory
// (train, embed, evaluate); a row whose result.json matches its settings is
// reused, so an interrupted plan continues where it stopped.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "imret/cli/commands.hpp"
#include "imret/cli/run_printing.hpp"
#include "imret/core/progress.hpp"
#include "imret/pipeline/experiment_job.hpp"

namespace imret::cli {
namespace {

struct ExperimentArgs {
  std::string plan;
  std::string out;
  std::vector<std::string> only;
  bool rerun = false;
};

void run_experiments(const ExperimentArgs& args) {
  RunPrinter printer;
  const pipeline::ExperimentOutcome outcome =
      pipeline::run_experiment({args.plan, args.out, args.only, args.rerun}, printer);
  std::printf("\n%s", eval::comparison_markdown(outcome.title, outcome.results).c_str());
  std::printf("\n%zu of %zu experiments in the table (%s); written: %s/results.{md,csv,json}\n",
              outcome.results.size(), outcome.planned, format_duration(outcome.seconds).c_str(),
              outcome.folder.string().c_str());
}

}  // namespace

void add_experiment_command(CLI::App& app) {
  auto args = std::make_shared<ExperimentArgs>();
  CLI::App* command = app.add_subcommand(
      "experiment", "Run a list of training configurations (a YAML plan) into one comparison table");
  command->add_option("plan", args->plan, "Experiment plan (YAML): data, defaults, experiments")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("-o,--out", args->out, "Output folder (default: the plan's 'out', else runs/experiments/<plan>)");
  command->add_option("--only", args->only, "Run only these experiments (comma-separated names); others are reused")
      ->delimiter(',');
  command->add_flag("--rerun", args->rerun, "Run again even where a matching result exists");
  command->callback([args] { run_experiments(*args); });
}

}  // namespace imret::cli
