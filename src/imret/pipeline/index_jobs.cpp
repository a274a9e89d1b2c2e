#include "imret/pipeline/index_jobs.hpp"

#include "imret/search/sharded_index.hpp"

#include <chrono>

#include "imret/core/embedding_tensor.hpp"
#include "imret/core/error.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/progress.hpp"
#include "imret/pipeline/networks.hpp"
#include "imret/search/index_store.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

namespace {

void set_parameters(search::Index& index, const search::SearchParams& parameters) {
  for (const auto& [name, value] : parameters.entries()) index.set_parameter(name, value);
}

std::string absolute_path(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

EmbeddingSet load_vectors(const std::string& folder, bool drop_nonfinite, const char* job) {
  EmbeddingSet set = load_embedding_set(folder, {drop_nonfinite});
  if (set.embeddings.rows == 0)
    throw UsageError(folder + ": no embeddings to " + job + " (the folder is empty)");
  return set;
}

}  // namespace

IndexFill train_and_add(search::Index& index, const at::Tensor& vectors, int64_t train_size, uint64_t seed) {
  IndexFill fill;
  if (index.needs_training()) {
    const at::Tensor sample = search::training_sample(vectors, train_size, seed);
    const auto start = std::chrono::steady_clock::now();
    index.train(sample);
    fill.trained_on = index.trained_on();  // 0 for indexes that turned out to need none (HNSW)
    fill.train_seconds = seconds_since(start);
  }
  const auto start = std::chrono::steady_clock::now();
  index.add(vectors);
  fill.added = vectors.size(0);
  fill.add_seconds = seconds_since(start);
  return fill;
}

std::unique_ptr<search::Index> index_in_memory(const EmbeddingSet& database, const std::string& spec,
                                               search::Metric metric, c10::Device device,
                                               const search::SearchParams& parameters, const rerank::Plan& plan) {
  auto index = search::make_index(spec, device, metric);
  set_parameters(*index, parameters);
  train_and_add(*index, plan.augment_database(embeddings_tensor(database), metric), 0, 0);
  return index;
}

void check_augmentation(const std::string& folder, const std::string& augmentation, const rerank::Plan& plan) {
  const std::string wanted = plan.database_spec();
  if (wanted == augmentation) return;
  if (wanted.empty())
    throw UsageError(folder + ": the index was built with " + augmentation +
                     " (its vectors are augmented); give the same to --rerank, e.g. --rerank " + augmentation);
  throw UsageError(folder + ": --rerank asks for " + wanted + ", which acts when an index is built, but the index was " +
                   (augmentation.empty() ? std::string("built without it") : "built with " + augmentation) +
                   ": imret index build --rerank " + wanted);
}

IndexBuildOutcome build_index_folder(const IndexBuildRequest& request, const fs::path& folder) {
  // Before the (long) build: a folder that may not be written fails first.
  OutputFolder out(folder, search::index_folder_rules("index build", request.replace, request.replace_hint,
                                                      {request.embeddings}));
  const EmbeddingSet set = load_vectors(request.embeddings, request.drop_nonfinite, "index");
  std::unique_ptr<search::Index> index;
  if (request.shards > 1)
    index = search::make_sharded_index(request.spec, c10::kCPU, request.metric, request.shards);
  else
    index = search::make_index(request.spec, c10::kCPU, request.metric);
  set_parameters(*index, request.parameters);  // before adding: efConstruction shapes the graph
  const auto start = std::chrono::steady_clock::now();
  const rerank::Plan augment(request.augment);
  for (const auto& method : augment.methods())
    if (!method->augments_database())
      throw UsageError("index build: " + method->spec() + " acts at search time; give it to imret index search --rerank "
                       "(index build takes database methods such as dba)");
  IndexBuildOutcome outcome;
  outcome.fill = train_and_add(*index, augment.augment_database(embeddings_tensor(set), request.metric), request.train_size,
                               request.seed);
  search::IndexManifest manifest;
  manifest.augmentation = augment.database_spec();
  manifest.trained_on = outcome.fill.trained_on;
  manifest.sources = {absolute_path(request.embeddings)};
  manifest.embedding_meta = set.meta;
  search::write_index_files(out.path(), *index, manifest, set.items);
  out.publish({{"count", index->size()}, {"dimension", index->dim()}});
  outcome.describe = index->describe();
  outcome.seconds = seconds_since(start);
  return outcome;
}

IndexAddOutcome add_to_index_folder(const fs::path& folder, const std::string& embeddings, bool drop_nonfinite) {
  OutputFolder out(folder, search::index_folder_rules("index add", true, "", {embeddings}));
  search::StoredIndex stored = search::load_index_folder(folder);
  EmbeddingSet set = load_vectors(embeddings, drop_nonfinite, "add");
  // Raw vectors get the index's whitening; others whitened otherwise are refused.
  match_database_whitening(set, stored.manifest.embedding_meta, embeddings);
  const int64_t dim = stored.index->dim();
  if (dim > 0 && set.embeddings.cols != dim)
    throw UsageError(embeddings + ": embeddings of " + std::to_string(set.embeddings.cols) +
                     " dimensions, the index holds " + std::to_string(dim));
  IndexAddOutcome outcome;
  const nlohmann::json& before = stored.manifest.embedding_meta;
  for (const char* key : {"checkpoint", "weights"})
    if (before.contains(key) && set.meta.contains(key) && before.at(key) != set.meta.at(key))
      outcome.warnings.push_back(embeddings + ": embedded with " + key + " " + set.meta.at(key).dump() +
                                 ", the index with " + before.at(key).dump() + ": their distances may not compare");
  if (stored.index->needs_training())
    throw Error(folder.string() + ": the saved index is not trained; build it again");
  if (!stored.manifest.augmentation.empty())
    throw UsageError(folder.string() + ": the index was built with " + stored.manifest.augmentation +
                     ", which augments every vector with its neighbours; build it again with the new items "
                     "(imret index build --rerank " + stored.manifest.augmentation + ")");
  stored.index->add(embeddings_tensor(set));
  stored.items.insert(stored.items.end(), set.items.begin(), set.items.end());
  stored.manifest.sources.push_back(absolute_path(embeddings));
  search::write_index_files(out.path(), *stored.index, stored.manifest, stored.items);
  out.publish({{"count", stored.index->size()}, {"dimension", stored.index->dim()}});
  outcome.added = set.embeddings.rows;
  outcome.describe = stored.index->describe();
  return outcome;
}

}  // namespace imret::pipeline
