#pragma once
// Qualitative results: grids of queries, each with its top-K database items,
// framed green when of the query's class and red when not (for COCO items:
// relevant or not under an object mode, with the objects written under
// each picture), rank and score under each; for a random sample of queries and for the best and the worst
// queries by average precision. `imret grid` and `imret report` write them.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/search/index.hpp"

namespace imret::viz {

struct RetrievalGridOptions {
  int64_t k = 8;      // results shown per query
  int64_t count = 8;  // queries per grid
  // Which queries each grid shows: "random" (seeded), "first", "best", "worst"
  // (by average precision, over the queries with at least one relevant item).
  std::vector<std::string> selections = {"random", "best", "worst"};
  uint64_t seed = 0;
  int cell_size = 96;  // pixels of a picture's longer side
  search::Metric metric = search::Metric::Cosine;
  bool exclude_self = false;  // the queries are the database: a query is not its own result
  // Items with objects (COCO): the object mode that frames results green
  // (selection | aggregation | weighted, or same-class), and the weighted
  // mode's threshold. Items without objects are framed by their class.
  std::string object_relevance = "selection";
  double weighted_threshold = 0.5;
  std::vector<std::string> formats = {"png"};
};

// The metric, exclude_self and object mode a run folder was evaluated with
// (its metrics.json), into `options`; nothing when the run has no metrics.json.
// Throws imret::Error naming the file when it is malformed.
void read_run_evaluation(const std::filesystem::path& run, RetrievalGridOptions& options);

// `count` query rows of a selection. average_precision has one value per
// query, NaN for a query without relevant items (never best or worst).
// best/worst: ties go to the lower row. UsageError for an unknown selection.
std::vector<int64_t> select_queries(const std::vector<double>& average_precision, const std::string& selection,
                                    int64_t count, uint64_t seed);

struct RetrievalGrids {
  std::vector<std::filesystem::path> files;  // the pictures, per selection and format
  nlohmann::json summary;                    // what grids.json holds
};

// Ranks the database for every query (exact search, options.metric), scores
// each query's average precision (relevance: same class, or the object mode
// for items with objects), and writes into
// `out`: grid-<selection>.<format> for each selection and format, and
// grids.json ({"metric", "k", "selections": {name: [{"query", "index",
// "source", "class", "average_precision", "results": [{"rank", "row",
// "index", "source", "class", "score", "correct"}]}]}}; items with
// objects add "objects": [[class index, count], ...] and "objects_text"). Images come from the
// data each set's meta.json names (queries_folder / database_folder name the
// sets in errors). Throws UsageError for bad options, imret::Error when the
// sets do not match (dimensions, exclude_self with different sets) or their
// images cannot be read.
RetrievalGrids write_retrieval_grids(const EmbeddingSet& queries, const std::filesystem::path& queries_folder,
                                     const EmbeddingSet& database, const std::filesystem::path& database_folder,
                                     const RetrievalGridOptions& options, const std::filesystem::path& out);

}  // namespace imret::viz
