// imret grid: qualitative retrieval results, as pictures: queries with their
// top-K database items framed green (same class; for COCO items relevant
// under an object mode) or red, for random, best and worst queries.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "imret/cli/commands.hpp"
#include "imret/cli/grid_inputs.hpp"
#include "imret/core/error.hpp"
#include "imret/viz/plot.hpp"
#include "imret/viz/retrieval_grid.hpp"

namespace fs = std::filesystem;

namespace imret::cli {
namespace {

struct GridArgs {
  GridInputs inputs;
  std::string out;
  viz::RetrievalGridOptions options;
};

void run_grid(GridArgs& args) {
  if (!viz::has_plots()) throw UsageError("imret grid: this build has no plots (cairo); rebuild with libcairo2-dev");
  const ResolvedGridInputs inputs = args.inputs.resolve(args.options);
  const fs::path out = args.out.empty() ? inputs.default_out : fs::path(args.out);
  const viz::RetrievalGrids grids =
      viz::write_retrieval_grids(inputs.queries, inputs.queries_folder, inputs.database, inputs.database_folder,
                                 args.options, out);
  for (const fs::path& file : grids.files) std::printf("%s\n", file.string().c_str());
  std::printf("%s\n", (out / "grids.json").string().c_str());
}

}  // namespace

void add_grid_command(CLI::App& app) {
  auto args = std::make_shared<GridArgs>();
  CLI::App* command = app.add_subcommand(
      "grid", "Pictures of queries with their top-K results, framed green (same class) or red (PNG/SVG)");
  args->inputs.add_options(*command);
  command->add_option("-o,--out", args->out, "Output folder (default: RUN/grids, or the queries' folder/grids)");
  viz::RetrievalGridOptions& o = args->options;
  command->add_option("-k", o.k, "Results shown per query")->capture_default_str();
  command->add_option("-n,--count", o.count, "Queries per grid")->capture_default_str();
  command->add_option("--select", o.selections, "Grids to draw: random, first, best, worst (by average precision)")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("--seed", o.seed, "Seed of the random queries")->capture_default_str();
  command->add_option("--cell-size", o.cell_size, "Pixels of a picture's longer side")->capture_default_str();
  command->add_option("--format", o.formats, "png and/or svg")->delimiter(',')->capture_default_str();
  command->callback([args] { run_grid(*args); });
}

}  // namespace imret::cli
