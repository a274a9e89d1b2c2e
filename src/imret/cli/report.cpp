// imret report: an HTML page per run (metrics, precision-recall, training
// curves, embedding maps, retrieval grids, settings) and, for several runs, a
// page comparing them.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "imret/cli/commands.hpp"
#include "imret/cli/run_names.hpp"
#include "imret/cli/setting_options.hpp"
#include "imret/core/error.hpp"
#include "imret/pipeline/report_job.hpp"

namespace fs = std::filesystem;

namespace imret::cli {
namespace {

struct ReportArgs {
  std::vector<std::string> runs;
  std::vector<std::string> names;
  std::string out;
  viz::ReportOptions options;
};

// "--maps ''" means none: CLI11 gives one empty entry.
std::vector<std::string> without_empty(std::vector<std::string> values) {
  values.erase(std::remove(values.begin(), values.end(), std::string()), values.end());
  return values;
}

void run_report(ReportArgs& args) {
  args.options.maps = without_empty(args.options.maps);
  args.options.grids = without_empty(args.options.grids);
  if (args.out.empty() && args.runs.size() > 1) throw UsageError("several runs: say where the report goes with -o DIR");
  const std::vector<std::string> names = run_names(args.runs, args.names);
  std::vector<viz::ReportedRun> runs;
  for (std::size_t i = 0; i < args.runs.size(); ++i) runs.push_back({names[i], args.runs[i]});
  const fs::path target = args.out.empty() ? fs::path(args.runs[0]) / "report" : fs::path(args.out);
  with_options({{"grid_count", "--grid-queries"}}, [&] {
    std::printf("wrote %s\n", pipeline::report_to_folder(runs, target, args.options).string().c_str());
  });
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* command = app.add_subcommand(
      "report", "HTML report of runs: metrics, PR and training curves, embedding maps, retrieval grids, settings");
  command->add_option("runs", args->runs, "Run folders (imret demo / train / experiment)")->required();
  command->add_option("--names", args->names, "Names of the runs, one each (default: the folder names)")
      ->delimiter(',');
  command->add_option("-o,--out", args->out, "Output folder (default for one run: RUN/report)");
  viz::ReportOptions& o = args->options;
  command->add_option("--maps", o.maps, "Embedding maps of the queries: pca, tsne, umap (none: --maps '')")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("--map-sample", o.map_sample, "Queries drawn on the maps (0: all)")->capture_default_str();
  command->add_option("--grids", o.grids, "Retrieval grids: random, first, best, worst (none: --grids '')")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("-k", o.grid_k, "Results per query in the grids")->capture_default_str();
  command->add_option("--grid-queries", o.grid_count, "Queries per grid")->capture_default_str();
  command->add_option("--seed", o.seed, "Seed of the map samples and of the random queries")->capture_default_str();
  command->callback([args] { run_report(*args); });
}

}  // namespace imret::cli
