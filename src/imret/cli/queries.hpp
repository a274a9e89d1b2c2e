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

// Image files embedded with `checkpoint`, else with the checkpoint or the
// weights recorded in `database_meta` (an embedding folder's meta.json).
// Grey networks (28x28) get each image converted to grey and resized.
EmbeddingSet embed_query_images(const std::vector<std::string>& images, const nlohmann::json& database_meta,
                                const std::string& checkpoint);

// --nprobe / --ef-search / --param name=value, applied to an index.
struct QueryParameterArgs {
  int64_t nprobe = 0;
  int64_t ef_search = 0;
  std::vector<std::string> params;  // name=value
  void add_options(CLI::App& command);
  void apply(search::Index& index) const;
};

// The first `count` queries' results: a table (rank, score, same class or
// not, class, source) or, with `json`, one JSON array.
void print_search_results(const search::SearchResult& result, const std::vector<EmbeddedItem>& queries, int64_t count,
                          const std::vector<EmbeddedItem>& database, bool json);
void print_range_results(const search::RangeResult& result, const std::vector<EmbeddedItem>& queries,
                         const std::vector<EmbeddedItem>& database, bool json);

}  // namespace imret::cli
