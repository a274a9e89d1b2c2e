#pragma once
// The query path of a retrieval service or `imret search`: queries from an
// embedding folder or from image files embedded with the database's own
// network, searched in an index, and the hits as records that name the
// database items.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/data/transforms.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/search/index.hpp"

namespace imret::pipeline {

// A decoded RGB image (3 x H x W in [0, 1]) as `network`'s input: its
// evaluation preprocessing; networks of grey images get each image converted
// to grey and resized to 28 x 28. prepare() may run on several threads at once.
class QueryImagePreparer {
 public:
  explicit QueryImagePreparer(const models::LoadedNetwork& network);
  at::Tensor prepare(const at::Tensor& rgb) const;

 private:
  std::shared_ptr<data::Transform> transform_;
  bool grey_;
};

// Image files embedded with `loaded` (its preprocessing; networks of grey
// images get each image converted to grey and resized to 28 x 28). The set's
// items are the files, unlabelled. Errors name the file that cannot be read.
EmbeddingSet embed_query_images(const std::vector<std::string>& images, const models::LoadedNetwork& loaded);

// Where queries come from: an embedding folder, or image files embedded with
// `checkpoint`, else with the network the database's meta.json records.
struct QuerySource {
  std::string folder;
  std::vector<std::string> images;
  std::string checkpoint;
};

// The queries of `source`. UsageError naming the fields unless exactly one of
// folder and images is given.
EmbeddingSet load_queries(const QuerySource& source, const nlohmann::json& database_meta);

struct Hit {
  int64_t rank = 0;  // 1-based
  int64_t id = 0;    // the database row
  float score = 0;   // distance or similarity, as the result's metric says
  const EmbeddedItem* item = nullptr;
  bool same_class = false;  // the query has a label and the item has the same
  std::optional<float> rerank_score;  // the re-ranking method's score, when one re-ranked
};

struct QueryHits {
  int64_t query = 0;  // the query's row
  const EmbeddedItem* item = nullptr;
  std::vector<Hit> hits;
};

// The hits of the first `count` queries of a top-k search (padding left out),
// each naming its database item, with `rerank_scores` (same shape as the
// result's, when defined). Error for an id that has no item.
std::vector<QueryHits> top_k_hits(const search::SearchResult& result, const std::vector<EmbeddedItem>& queries,
                                  int64_t count, const std::vector<EmbeddedItem>& database,
                                  const at::Tensor& rerank_scores = {});
// The hits of every query of a range search.
std::vector<QueryHits> range_hits(const search::RangeResult& result, const std::vector<EmbeddedItem>& queries,
                                  const std::vector<EmbeddedItem>& database);

// "similarity" (cosine) or "distance" (Euclidean): what a score is.
const char* score_name(search::Metric metric);

// [{"query", "source", "label", "class", "results": [{"rank", "id",
// "similarity"|"distance", "source", "label", "class", "same_class"[, "rerank_score"]}]}].
nlohmann::json hits_json(const std::vector<QueryHits>& queries, search::Metric metric);

}  // namespace imret::pipeline
