#pragma once
// Queries for `imret search` and `imret index search`: the options that say
// where they come from (an embedding folder, or image files embedded with the
// network the database came from), the query-time parameters, and the
// printing of their hits.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "imret/core/embedding_set.hpp"
#include "imret/pipeline/index_jobs.hpp"
#include "imret/pipeline/query.hpp"
#include "imret/search/index.hpp"
#include "imret/search/search_params.hpp"

namespace CLI {
class App;
}

namespace imret::cli {

// --queries (an embedding folder) or --image files, --checkpoint, --first, -k, --json.
struct QueryArgs {
  pipeline::QuerySource source;
  int64_t first = 10;
  int64_t k = 5;
  bool json = false;
  // `image_help`: how --image files are embedded (the network's source).
  void add_options(CLI::App& command, const std::string& image_help, const std::string& checkpoint_help);
  // Checks k >= 1 and loads the queries (pipeline::load_queries).
  EmbeddingSet load(const nlohmann::json& database_meta) const;
  // How many of `queries` to search: --first of them (0: all).
  int64_t count(const EmbeddingSet& queries) const;
};

// --nprobe / --ef-search / --param name=value.
struct QueryParameterArgs {
  int64_t nprobe = 0;
  int64_t ef_search = 0;
  std::vector<std::string> params;  // name=value
  void add_options(CLI::App& command);
  // The parameters given, checked, in the order nprobe, efSearch, --param.
  search::SearchParams parameters() const;
};

// --rerank SPEC (several: SPEC... compared side by side) and --rerank-depth.
void add_rerank_options(CLI::App& command, std::vector<std::string>& specs, int64_t& depth, bool several);

// Warns (one line on stderr) when k is above the database's item count: the
// search is not truncated to k results, each query gets the items there are.
void note_k_above_database(int64_t k, int64_t database_items);

// The hits of the first `count` queries: a table (rank, score, same class or
// not, class, source) or, with `json`, one JSON array. A k (the result's
// columns) above the database's size is noted on stderr.
void print_search_results(const search::SearchResult& result, const std::vector<EmbeddedItem>& queries, int64_t count,
                          const std::vector<EmbeddedItem>& database, bool json, const at::Tensor& rerank_scores = {});
void print_range_results(const search::RangeResult& result, const std::vector<EmbeddedItem>& queries,
                         const std::vector<EmbeddedItem>& database, bool json);

}  // namespace imret::cli
