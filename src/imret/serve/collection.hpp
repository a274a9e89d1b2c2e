#pragma once
// What a query service serves: the database items of an index folder
// (`imret index build`) or an embedding folder (`imret embed`, searched
// exactly), with the network that embedded them, so that image queries are
// embedded the same way. Searches may run from many threads at once, and
// with writes to an index folder (add, remove) between them: each write is
// applied in memory and saved to the folder whole (the output-folder
// contract: a kill at any moment leaves the old folder or the new one)
// before it returns.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/rerank/plan.hpp"
#include "imret/search/index.hpp"
#include "imret/search/index_store.hpp"

namespace imret::serve {

struct CollectionOptions {
  std::string checkpoint;  // the network of image queries; empty: the folder's record
};

class Collection {
 public:
  // Opens `folder`: an index folder (manifest.json), an embedding folder
  // (embeddings.npy), or a run folder holding embeddings/database. Errors
  // name the folder and what is missing. A folder whose network cannot be
  // found serves embedding and item queries only (image_queries() false,
  // with the reason in network_problem()).
  static std::unique_ptr<Collection> open(const std::filesystem::path& folder, const CollectionOptions& options = {});

  // backend, metric, metrics, vectors, dimension, network, classes, folder.
  nlohmann::json info() const;
  int64_t size() const { return static_cast<int64_t>(items_.size()); }
  int64_t dimension() const { return dimension_; }
  search::Metric default_metric() const { return default_metric_; }
  // The metrics it searches by: both for exact search, the index's own for FAISS.
  std::vector<search::Metric> metrics() const;

  bool image_queries() const { return network_ != nullptr; }
  const std::string& network_problem() const { return network_problem_; }
  const models::LoadedNetwork& network() const;

  // Holds the collection as it is (no write happens while it is held):
  // take it around a search and the use of the items it returns.
  std::shared_lock<std::shared_mutex> reading() const { return std::shared_lock<std::shared_mutex>(mutex_); }

  // Empty when add() works here (an index folder), else why not.
  std::string write_problem() const;
  // Appends N x dimension() vectors with their N items, saves the folder,
  // and returns the first new id. UsageError when write_problem() is not empty; Error when the folder cannot be written
  // (the items stay served from memory, the folder on disk stays as it was).
  int64_t add(const at::Tensor& vectors, std::vector<EmbeddedItem> items);
  // Empty when remove() works here, else why not (naming the backends that can).
  std::string remove_problem() const;
  // Removes item `id` and saves the folder; the items after it move down by
  // one (ids stay dense, as FAISS's IndexFlat keeps them). Error for an
  // unknown id, UsageError when remove_problem() is not empty.
  void remove(int64_t id);

  // Top-k of Q x dimension() queries. UsageError for a metric it does not
  // search by or parameters the index does not take.
  search::SearchResult search(const at::Tensor& queries, int64_t k, search::Metric metric,
                              const search::SearchParams& params) const;
  // The same through a re-ranking plan (prepared with prepare_rerank when it
  // needs it). UsageError as search(), or when the plan's database part is
  // not the one the vectors went through (augmentation()).
  rerank::RerankedResult search_reranked(const at::Tensor& queries, int64_t k, search::Metric metric,
                                         const search::SearchParams& params, const rerank::Plan& plan) const;
  // Prepares `plan` over the index of the default metric.
  void prepare_rerank(rerank::Plan& plan) const;
  // The database-side re-ranking its vectors went through ("" when none).
  const std::string& augmentation() const { return manifest_.augmentation; }
  // Item `id`'s stored vector (1 x D), as a query. Error for an unknown id.
  at::Tensor vector(int64_t id) const;
  // Item `id`, or nothing for an id it does not hold. The pointer (and
  // items()) stay valid while a reading() lock is held.
  const EmbeddedItem* item(int64_t id) const;
  const std::vector<EmbeddedItem>& items() const { return items_; }
  const std::vector<std::string>& classes() const { return classes_; }
  // The folder served (an index folder or an embedding folder).
  const std::filesystem::path& folder() const { return folder_; }

 private:
  Collection() = default;
  void load_network(const nlohmann::json& meta, const std::string& checkpoint);
  const search::Index& index_for(search::Metric metric) const;

  std::filesystem::path folder_;
  std::string kind_;  // "index" or "embeddings"
  std::string backend_;
  int64_t dimension_ = 0;
  search::Metric default_metric_ = search::Metric::Euclidean;
  std::unique_ptr<search::Index> index_;  // an index folder's
  search::IndexManifest manifest_;        // an index folder's
  // An embedding folder's exact indexes, one per metric.
  std::unique_ptr<search::Index> euclidean_, cosine_;
  at::Tensor vectors_;  // an embedding folder's rows
  std::vector<EmbeddedItem> items_;
  std::vector<std::string> classes_;
  nlohmann::json meta_;
  std::unique_ptr<models::LoadedNetwork> network_;
  std::string network_problem_;
  mutable std::shared_mutex mutex_;  // searches share it, writes hold it alone
  std::mutex write_mutex_;           // one write (and its save) at a time
};

}  // namespace imret::serve
