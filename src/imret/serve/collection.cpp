#include "imret/serve/collection.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "imret/core/embedding_tensor.hpp"
#include "imret/core/error.hpp"
#include "imret/core/internal_error.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/core/version.hpp"
#include "imret/core/yaml.hpp"
#include "imret/pipeline/networks.hpp"
#include "imret/search/index_store.hpp"

namespace imret::serve {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> class_names(const nlohmann::json& meta) {
  std::vector<std::string> names;
  if (meta.contains("classes") && meta["classes"].is_array())
    for (const auto& name : meta["classes"])
      if (name.is_string()) names.push_back(name.get<std::string>());
  return names;
}

// A run folder's metric (config.yaml "metric", as imret demo and train write it), else Euclidean.
search::Metric run_metric(const fs::path& run) {
  try {
    const nlohmann::json config = load_yaml(run / "config.yaml");
    if (config.contains("metric") && config["metric"].is_string())
      return search::parse_metric(config["metric"].get<std::string>());
  } catch (const Error&) {
  }
  return search::Metric::Euclidean;
}

}  // namespace

std::unique_ptr<Collection> Collection::open(const fs::path& folder, const CollectionOptions& options) {
  std::unique_ptr<Collection> c(new Collection());
  c->folder_ = folder;
  if (!fs::is_directory(folder))
    throw Error(folder.string() + ": " + (fs::exists(folder) ? "not a folder" : "no such folder") +
                " (serve an index folder from imret index build, or an embedding folder from imret embed)");
  fs::path source = folder;
  search::Metric metric = search::Metric::Euclidean;
  if (!fs::exists(folder / "manifest.json") && !fs::exists(folder / "embeddings.npy")) {
    // A run folder (imret demo, train + embed): its index, else its database embeddings.
    if (fs::exists(folder / "index" / "manifest.json")) {
      source = folder / "index";
    } else if (fs::exists(folder / "embeddings" / "database" / "embeddings.npy")) {
      source = folder / "embeddings" / "database";
      metric = run_metric(folder);
    } else {
      throw Error(folder.string() + ": neither an index folder (manifest.json) nor an embedding folder "
                                    "(embeddings.npy) nor a run folder holding one");
    }
  }
  if (fs::exists(source / "manifest.json")) {
    search::StoredIndex stored = search::load_index_folder(source);
    c->kind_ = "index";
    c->backend_ = stored.manifest.backend;
    c->default_metric_ = stored.manifest.metric;
    c->dimension_ = stored.index->dim();
    c->index_ = std::move(stored.index);
    c->items_ = std::move(stored.items);
    c->meta_ = stored.manifest.embedding_meta;
    c->manifest_ = std::move(stored.manifest);
  } else {
    EmbeddingSet set = load_embedding_set(source);
    c->kind_ = "embeddings";
    c->backend_ = "exact";
    c->default_metric_ = metric;
    c->vectors_ = embeddings_tensor(set).clone();
    c->dimension_ = set.embeddings.cols;
    c->euclidean_ = search::make_index("exact:euclidean", c10::kCPU);
    c->cosine_ = search::make_index("exact:cosine", c10::kCPU);
    if (set.embeddings.rows > 0) {
      c->euclidean_->add(c->vectors_);
      c->cosine_->add(c->vectors_);
    }
    c->items_ = std::move(set.items);
    c->meta_ = std::move(set.meta);
  }
  if (c->items_.empty()) throw Error(source.string() + ": holds no items to search");
  c->folder_ = source;
  c->classes_ = class_names(c->meta_);
  c->load_network(c->meta_, options.checkpoint);
  return c;
}

void Collection::load_network(const nlohmann::json& meta, const std::string& checkpoint) {
  try {
    network_ = std::make_unique<models::LoadedNetwork>(pipeline::embedding_network(meta, checkpoint));
  } catch (const Error& e) {
    if (!checkpoint.empty()) throw;  // asked for: it must load
    network_problem_ = e.what();
    spdlog::warn("image queries are off: {}", network_problem_);
    return;
  }
  network_->network->eval();
  const int64_t out = network_->network->embedding_dim();
  if (out != dimension_)
    throw SettingError("checkpoint", " " + (checkpoint.empty() ? std::string("(recorded)") : checkpoint) +
                                         ": the network embeds in " + std::to_string(out) +
                                         " dimensions, the served vectors have " + std::to_string(dimension_));
}

const models::LoadedNetwork& Collection::network() const {
  if (!network_) throw UsageError("image queries are off: " + network_problem_);
  return *network_;
}

std::vector<search::Metric> Collection::metrics() const {
  if (index_) return {index_->metric()};
  return {search::Metric::Euclidean, search::Metric::Cosine};
}

const search::Index& Collection::index_for(search::Metric metric) const {
  if (index_) {
    if (index_->metric() != metric)
      throw SettingError("metric", " " + search::to_string(metric) + ": this index searches by " +
                                       search::to_string(index_->metric()) + " only");
    return *index_;
  }
  return metric == search::Metric::Cosine ? *cosine_ : *euclidean_;
}

search::SearchResult Collection::search(const at::Tensor& queries, int64_t k, search::Metric metric,
                                        const search::SearchParams& params) const {
  return index_for(metric).search(queries, k, params);
}

rerank::RerankedResult Collection::search_reranked(const at::Tensor& queries, int64_t k, search::Metric metric,
                                                   const search::SearchParams& params, const rerank::Plan& plan) const {
  if (plan.database_spec() != augmentation()) {
    if (augmentation().empty())
      throw UsageError("rerank " + plan.database_spec() +
                       " acts when an index is built (imret index build --rerank ...); these vectors went through none");
    throw UsageError("this index was built with " + augmentation() + "; a rerank must name the same (e.g. rerank=" +
                     augmentation() + "+aqe)");
  }
  return plan.search(index_for(metric), queries, k, params);
}

void Collection::prepare_rerank(rerank::Plan& plan) const { plan.prepare(index_for(default_metric_)); }

std::string Collection::write_problem() const {
  if (!augmentation().empty())
    return folder_.string() + ": the index was built with " + augmentation() +
           ", which augments every vector with its neighbours; new items would go in unaugmented (rebuild it instead)";
  if (index_) return {};
  return folder_.string() + ": an embedding folder records what imret embed made of a dataset, and is not changed; "
                            "serve an index folder (imret index build) to add and remove items";
}

std::string Collection::remove_problem() const {
  if (!index_) return write_problem();
  if (index_->can_remove()) return {};
  return index_->spec() + " cannot remove items: exact indexes can, and FAISS Flat, PQ, SQ and LSH indexes; "
                          "IVF and HNSW indexes cannot (rebuild the index without the item)";
}

int64_t Collection::add(const at::Tensor& vectors, std::vector<EmbeddedItem> items) {
  if (!write_problem().empty()) throw UsageError(write_problem());
  if (vectors.dim() != 2 || vectors.size(1) != dimension_ || vectors.size(0) != static_cast<int64_t>(items.size()))
    throw InternalError("Collection::add: expected " + std::to_string(items.size()) + " x " +
                        std::to_string(dimension_) + " vectors");
  const std::lock_guard<std::mutex> one_write(write_mutex_);
  int64_t first = 0;
  {
    const std::unique_lock<std::shared_mutex> alone(mutex_);
    first = size();
    index_->add(vectors.to(torch::kFloat32).contiguous());
    for (EmbeddedItem& item : items) {
      if (item.index < 0) item.index = size();  // its id
      items_.push_back(std::move(item));
    }
  }
  const auto shared = reading();  // searches go on while the folder is written
  search::save_index_folder(folder_, *index_, manifest_, items_);
  return first;
}

void Collection::remove(int64_t id) {
  const std::string problem = remove_problem();
  if (!problem.empty()) throw UsageError(problem);
  const std::lock_guard<std::mutex> one_write(write_mutex_);
  {
    const std::unique_lock<std::shared_mutex> alone(mutex_);
    if (!item(id)) throw Error("no item " + std::to_string(id) + " (ids 0.." + std::to_string(size() - 1) + ")");
    if (size() == 1) throw UsageError("item " + std::to_string(id) + " is the last one: a collection cannot be empty");
    index_->remove_ids({id});
    items_.erase(items_.begin() + id);
  }
  const auto shared = reading();
  search::save_index_folder(folder_, *index_, manifest_, items_);
}

at::Tensor Collection::vector(int64_t id) const {
  if (!item(id)) throw Error("no item " + std::to_string(id) + " (ids 0.." + std::to_string(size() - 1) + ")");
  if (index_) return index_->vector(id);
  return vectors_.narrow(0, id, 1).clone();
}

const EmbeddedItem* Collection::item(int64_t id) const {
  if (id < 0 || id >= size()) return nullptr;
  return &items_[static_cast<size_t>(id)];
}

nlohmann::json Collection::info() const {
  nlohmann::json metric_names = nlohmann::json::array();
  for (search::Metric m : metrics()) metric_names.push_back(search::to_string(m));
  nlohmann::json network = nullptr;
  if (network_) {
    network = {{"spec", network_->info.spec.to_json()}, {"preprocess", network_->info.preprocess}};
    if (meta_.contains("checkpoint")) network["checkpoint"] = meta_["checkpoint"];
  }
  return {{"kind", kind_},
          {"backend", index_ ? index_->describe() : backend_},
          {"spec", index_ ? index_->spec() : backend_},
          {"metric", search::to_string(default_metric_)},
          {"metrics", metric_names},
          {"vectors", size()},
          {"dimension", dimension_},
          {"parameters", index_ ? nlohmann::json(index_->parameters()) : nlohmann::json::array()},
          {"image_queries", image_queries()},
          {"image_queries_off", network_ ? nlohmann::json(nullptr) : nlohmann::json(network_problem_)},
          {"network", network},
          {"classes", classes_},
          {"folder", folder_.string()},
          {"imret_version", kVersion}};
}

}  // namespace imret::serve
