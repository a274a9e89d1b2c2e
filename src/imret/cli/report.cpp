// imret report: an HTML page per run (metrics, precision-recall, training
// curves, embedding maps, retrieval grids, settings) and, for several runs, a
// page comparing them.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "imret/cli/commands.hpp"
#include "imret/cli/run_names.hpp"
#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/viz/plot.hpp"
#include "imret/viz/run_report.hpp"

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
  if (!viz::has_plots()) throw UsageError("imret report: this build has no plots (cairo); rebuild with libcairo2-dev");
  if (args.out.empty() && args.runs.size() > 1) throw UsageError("several runs: say where the report goes with -o DIR");
  const std::vector<std::string> names = run_names(args.runs, args.names);
  std::vector<viz::ReportedRun> runs;
  for (std::size_t i = 0; i < args.runs.size(); ++i) runs.push_back({names[i], args.runs[i]});
  const fs::path target = args.out.empty() ? fs::path(args.runs[0]) / "report" : fs::path(args.out);
  OutputRules rules;
  rules.kind = "report";
  rules.command = "report";
  rules.replace = true;
  rules.inputs.assign(args.runs.begin(), args.runs.end());
  // Written before markers: imret's page (its title says so) and its pictures.
  rules.legacy = [](const fs::path& folder) {
    if (!only_entries(folder, {"index.html", "runs"}, {".png", ".svg", ".csv"}, "index.html")) return false;
    try {
      return read_file(folder / "index.html").find("<title>imret report: ") != std::string::npos;
    } catch (const Error&) {
      return false;
    }
  };
  OutputFolder out(target, rules);
  const fs::path page = args.runs.size() == 1 ? viz::write_run_report(runs[0], out.path(), args.options)
                                              : viz::write_comparison_report(runs, out.path(), args.options);
  out.publish();
  std::printf("wrote %s\n", (target / page.filename()).string().c_str());
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
