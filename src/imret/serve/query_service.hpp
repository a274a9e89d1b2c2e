#pragma once
// The query service without its transport: searches a Collection with the
// queries of a request (images embedded through the dynamic batcher,
// embeddings, or database items) and answers in JSON, with the time each
// step took; serves item records and item images; adds and removes items
// when writes are allowed. Safe to call from many threads at once. Errors
// are RequestErrors carrying their HTTP status.
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "imret/data/image_header.hpp"
#include "imret/pipeline/query.hpp"
#include "imret/serve/collection.hpp"
#include "imret/serve/embed_batcher.hpp"
#include "imret/serve/item_images.hpp"
#include "imret/serve/new_items.hpp"
#include "imret/serve/search_batcher.hpp"
#include "imret/serve/search_request.hpp"
#include "imret/serve/service_metrics.hpp"
#include "imret/serve/upload_store.hpp"

namespace imret::serve {

struct ServiceLimits {
  int64_t max_k = 1000;     // larger k is clamped (as is k above the collection's size)
  size_t max_queries = 32;  // queries in one request
  // Images over these are refused (413) from their header, before decoding.
  data::ImageLimits image_limits = {40'000'000, 100.0};
};

class QueryService {
 public:
  // With `allow_writes`, add_items and remove_item change the collection
  // (an index folder: UsageError naming the folder otherwise); added images
  // are kept in FOLDER-uploads beside it.
  QueryService(std::shared_ptr<Collection> collection, BatcherOptions batching, ServiceLimits limits,
               std::shared_ptr<ServiceMetrics> metrics, bool allow_writes = false);

  // Re-ranks every search with `spec` (rerank::Plan) over shortlists of
  // `depth`, unless a request says rerank=none or names another plan (one
  // that needs no preparing). Prepares it now (diffusion's graph).
  // SettingError naming "rerank" for a bad spec, a database part the
  // collection's vectors did not go through, or a graph with writes on.
  void set_rerank(const std::string& spec, int64_t depth);

  // {"k", "metric", "score"[, "rerank"], "queries": [{"query": {...}, "results": [{"rank", "id", "score",
  //  "label", "class", "path"[, "same_class"][, "rerank_score"]}]}], "timings_ms": {"decode", "embed", "search", "total"}}
  nlohmann::json search(const SearchQueries& queries);
  // The collection's info and this service's limits.
  nlohmann::json info() const;
  // Item `id`'s record (as items.jsonl holds it, with its id); 404 when there is none.
  nlohmann::json item(int64_t id) const;
  ItemImage item_image(int64_t id);
  // Embeds and adds `items`, saved before it answers: {"added": [item records],
  // "vectors", "timings_ms": {"decode", "embed", "write", "total"}}. 403 when
  // writes are off, 409 when the collection cannot take them.
  nlohmann::json add_items(const NewItems& items);
  // Removes item `id`, saved before it answers: {"removed", "vectors"}. The
  // items after it move down by one. 403 / 404 / 409 as add_items.
  nlohmann::json remove_item(int64_t id);
  bool writes_allowed() const { return allow_writes_; }

  const ServiceLimits& limits() const { return limits_; }
  int64_t queued() const { return batcher_ ? batcher_->queued() : 0; }
  const SearchBatcher& search_batcher() const { return *searches_; }
  const Collection& collection() const { return *collection_; }

 private:
  const EmbeddedItem& existing_item(int64_t id) const;  // under a reading() lock
  // Decoded and prepared for the network (400/413 naming the file).
  at::Tensor prepared_image(const UploadedFile& file) const;
  at::Tensor embedded(const std::vector<at::Tensor>& inputs);  // 503 when overloaded
  // Q x dimension() float32 rows of `embeddings` (400 naming the row of another size).
  at::Tensor embedding_rows(const std::vector<std::vector<float>>& embeddings) const;
  void check_writes() const;
  // The plan of a request: its own, the service's, or none (400 for one it cannot run).
  rerank::Plan plan_for(const SearchQueries& queries) const;

  std::shared_ptr<Collection> collection_;
  ServiceLimits limits_;
  std::shared_ptr<ServiceMetrics> metrics_;
  std::unique_ptr<pipeline::QueryImagePreparer> preparer_;
  std::unique_ptr<EmbedBatcher> batcher_;
  std::unique_ptr<SearchBatcher> searches_;  // concurrent searches read the database once
  ItemImages images_;
  bool allow_writes_ = false;
  std::unique_ptr<UploadStore> uploads_;
  rerank::Plan rerank_;  // the service's, prepared
};

}  // namespace imret::serve
