#include "imret/cli/grid_inputs.hpp"

#include <CLI/CLI.hpp>

#include "imret/core/error.hpp"
#include "imret/pipeline/networks.hpp"

namespace fs = std::filesystem;

namespace imret::cli {

void GridInputs::add_options(CLI::App& command) {
  command.add_option("run", run, "A run folder (imret demo / train / experiment) with embeddings/queries and "
                                 "embeddings/database");
  command.add_option("--queries", queries, "Query embeddings folder (instead of a run)");
  command.add_option("--database", database, "Database embeddings folder (instead of a run)");
  command.add_option("--metric", metric, "euclidean or cosine (default: the run's metrics.json, else cosine)");
  command.add_flag("--exclude-self", exclude_self, "The queries are the database: never show a query as its own result");
  command.add_option("--relevance", relevance,
                     "COCO items: the object mode that frames results green: selection, aggregation, weighted or "
                     "same-class (default: the run's metrics.json, else selection)")
      ->check(CLI::IsMember({"selection", "aggregation", "weighted", "same-class"}));
}

ResolvedGridInputs GridInputs::resolve(viz::RetrievalGridOptions& options) const {
  ResolvedGridInputs resolved;
  if (!run.empty()) {
    if (!queries.empty() || !database.empty()) throw UsageError("give a run folder or --queries/--database, not both");
    resolved.queries_folder = fs::path(run) / "embeddings" / "queries";
    resolved.database_folder = fs::path(run) / "embeddings" / "database";
    resolved.default_out = fs::path(run) / "grids";
    options.metric = search::Metric::Cosine;
    viz::read_run_evaluation(run, options);
  } else {
    if (queries.empty() || database.empty()) {
      throw UsageError("give a run folder, or both --queries and --database embedding folders");
    }
    resolved.queries_folder = queries;
    resolved.database_folder = database;
    resolved.default_out = fs::path(queries) / "grids";
    options.metric = search::Metric::Cosine;
  }
  if (!metric.empty()) options.metric = search::parse_metric(metric);
  if (exclude_self) options.exclude_self = true;
  if (!relevance.empty()) options.object_relevance = relevance;
  resolved.queries = load_embedding_set(resolved.queries_folder);
  resolved.database = load_embedding_set(resolved.database_folder);
  pipeline::match_database_whitening(resolved.queries, resolved.database.meta, resolved.queries_folder.string());
  return resolved;
}

}  // namespace imret::cli
