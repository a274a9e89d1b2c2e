// imret plot: the pictures of run folders (imret train / demo / experiment):
// precision-recall curves of every run on one plot, training loss and
// validation retrieval per epoch, and a bar chart of the retrieval metrics.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "imret/cli/commands.hpp"
#include "imret/cli/run_names.hpp"
#include "imret/core/error.hpp"
#include "imret/viz/plot.hpp"
#include "imret/viz/run_plots.hpp"

namespace fs = std::filesystem;

namespace imret::cli {
namespace {

struct PlotArgs {
  std::vector<std::string> runs;
  std::vector<std::string> names;
  std::string out;
  std::vector<std::string> formats = {"png", "svg"};
};

void run_plot(const PlotArgs& args) {
  for (const auto& format : args.formats)
    if (format != "png" && format != "svg") throw UsageError("--format " + format + ": expected png or svg");
  if (args.formats.empty()) throw UsageError("--format: give png and/or svg");
  if (args.out.empty() && args.runs.size() > 1) throw UsageError("several runs: say where the plots go with -o DIR");
  if (!viz::has_plots()) throw UsageError("imret plot: this build has no plots (cairo); rebuild with libcairo2-dev");
  const std::vector<std::string> names = run_names(args.runs, args.names);
  std::vector<viz::RunData> runs;
  for (size_t i = 0; i < args.runs.size(); ++i) runs.push_back(viz::read_run(args.runs[i], names[i]));
  const fs::path out = args.out.empty() ? fs::path(args.runs[0]) / "plots" : fs::path(args.out);
  const std::vector<fs::path> written = viz::write_run_plots(runs, out, args.formats);
  for (const auto& file : written) std::printf("%s\n", file.string().c_str());
}

}  // namespace

void add_plot_command(CLI::App& app) {
  auto args = std::make_shared<PlotArgs>();
  CLI::App* command = app.add_subcommand(
      "plot", "Plots of run folders: precision-recall curves, training curves, metric bars (PNG/SVG)");
  command->add_option("runs", args->runs, "Run folders (imret train / demo / experiment)")->required();
  command->add_option("--names", args->names, "Names in the legends, one per run (default: the folder names)")
      ->delimiter(',');
  command->add_option("-o,--out", args->out, "Output folder (default for one run: RUN/plots)");
  command->add_option("--format", args->formats, "png and/or svg")->delimiter(',')->capture_default_str();
  command->callback([args] { run_plot(*args); });
}

}  // namespace imret::cli
