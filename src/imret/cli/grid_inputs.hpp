#pragma once
// The embeddings `imret grid` and `imret report` draw retrieval grids from: a
// run folder (embeddings/queries and embeddings/database, the metric of its
// metrics.json), or --queries and --database folders.
#include <filesystem>
#include <string>

#include "imret/core/embedding_set.hpp"
#include "imret/viz/retrieval_grid.hpp"

namespace CLI {
class App;
}

namespace imret::cli {

struct ResolvedGridInputs {
  EmbeddingSet queries, database;
  std::filesystem::path queries_folder, database_folder;
  std::filesystem::path default_out;  // RUN/grids, or QUERIES/grids
};

struct GridInputs {
  std::string run;
  std::string queries, database;
  std::string metric;  // empty: the run's metrics.json, else cosine
  bool exclude_self = false;
  std::string relevance;  // COCO object mode; empty: the run's metrics.json, else selection

  void add_options(CLI::App& command);
  // Loads the two sets; sets options.metric, exclude_self and
  // object_relevance from the command line, else from the run's metrics.json. UsageError when neither
  // or both of RUN and --queries/--database are given.
  ResolvedGridInputs resolve(viz::RetrievalGridOptions& options) const;
};

}  // namespace imret::cli
