#pragma once
// Queries for `imret search` and `imret index search`: an embedding folder, or
// image files embedded with the network the database came from; and the
// printing of their results.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "imret/core/embedding_set.hpp"
#include "imret/search/index.hpp"

namespace CLI {
class App;
}

namespace imret::cli {

// The queries of `imret search` and `imret index search`: --queries (an
// embedding folder) or --image files, --checkpoint, --first, -k, --json.
struct QueryArgs {
  std::string queries;
  std::vector<std::string> images;
  std::string checkpoint;
  int64_t first = 10;
  int64_t k = 5;
  bool json = false;
  // `image_help`: how --image files are embedded (the network's source).
  void add_options(CLI::App& command, const std::string& image_help, const std::string& checkpoint_help);
  // Checks the options (exactly one query source, k >= 1) and loads the
  // queries: the folder, or the images embedded with --checkpoint, else with
  // the network `database_meta` records.
  EmbeddingSet load(const nlohmann::json& database_meta) const;
  // How many of `queries` to search: --first of them (0: all).
  int64_t count(const EmbeddingSet& queries) const;
};

// --nprobe / --ef-search / --param name=value, applied to an index.
struct QueryParameterArgs {
  int64_t nprobe = 0;
  int64_t ef_search = 0;
  std::vector<std::string> params;  // name=value
  void add_options(CLI::App& command);
  void apply(search::Index& index) const;
};

// Warns (one line on stderr) when k is above the database's item count: the
// search is not truncated to k results, each query gets the items there are.
void note_k_above_database(int64_t k, int64_t database_items);

// The first `count` queries' results: a table (rank, score, same class or
// not, class, source) or, with `json`, one JSON array. A k (the result's
// columns) above the database's size is noted (note_k_above_database).
void print_search_results(const search::SearchResult& result, const std::vector<EmbeddedItem>& queries, int64_t count,
                          const std::vector<EmbeddedItem>& database, bool json);
void print_range_results(const search::RangeResult& result, const std::vector<EmbeddedItem>& queries,
                         const std::vector<EmbeddedItem>& database, bool json);

}  // namespace imret::cli
