#include "imret/search/index.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>

#include "imret/core/error.hpp"
#include "imret/search/exact_index.hpp"
#ifdef IMRET_WITH_FAISS
#include "imret/search/faiss_index.hpp"
#endif
#include "imret/search/similarity.hpp"

namespace imret::search {

Metric parse_metric(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "euclidean" || lower == "l2") return Metric::Euclidean;
  if (lower == "cosine") return Metric::Cosine;
  throw UsageError("unknown metric '" + text + "': expected euclidean, l2 or cosine");
}

std::string to_string(Metric metric) { return metric == Metric::Cosine ? "cosine" : "euclidean"; }

namespace {

constexpr const char* kFaissPrefix = "faiss:";

bool is_faiss(const std::string& spec) { return spec.rfind(kFaissPrefix, 0) == 0; }

// The metric an exact spec names ("exact" alone: `fallback`).
Metric exact_metric(const std::string& spec, Metric fallback) {
  if (spec == "exact") return fallback;
  const std::string prefix = "exact:";
  if (spec.rfind(prefix, 0) == 0) {
    const std::string metric = spec.substr(prefix.size());
    if (metric == "l2" || metric == "euclidean") return Metric::Euclidean;
    if (metric == "cosine") return Metric::Cosine;
  }
  throw UsageError("unknown index '" + spec +
                   "': valid indexes are exact, exact:l2, exact:cosine and faiss:<index_factory string> "
                   "(faiss:Flat, faiss:IVF256,Flat, faiss:IVF256,PQ16, faiss:HNSW32...)");
}

void require_faiss(const std::string& spec) {
  if (!has_faiss())
    throw UsageError("index '" + spec + "': this imret was built without FAISS (cmake -DIMRET_WITH_FAISS=ON)");
}

}  // namespace

bool has_faiss() {
#ifdef IMRET_WITH_FAISS
  return true;
#else
  return false;
#endif
}

std::unique_ptr<Index> make_index(const std::string& spec, c10::Device device, Metric metric) {
  if (is_faiss(spec)) {
    require_faiss(spec);
#ifdef IMRET_WITH_FAISS
    if (device.type() != c10::kCPU) spdlog::warn("{}: FAISS indexes run on the CPU here", spec);
    return std::make_unique<FaissIndex>(spec.substr(std::string(kFaissPrefix).size()), metric);
#endif
  }
  return std::make_unique<ExactIndex>(exact_metric(spec, metric), device);
}

std::unique_ptr<Index> load_index(const std::string& spec, Metric metric, const std::filesystem::path& file,
                                  c10::Device device) {
  if (is_faiss(spec)) {
    require_faiss(spec);
#ifdef IMRET_WITH_FAISS
    return FaissIndex::load(spec.substr(std::string(kFaissPrefix).size()), metric, file);
#endif
  }
  return ExactIndex::load(exact_metric(spec, metric), file, device);
}

at::Tensor training_sample(const at::Tensor& vectors, int64_t limit, uint64_t seed) {
  if (limit <= 0 || limit >= vectors.size(0)) return vectors;
  torch::Generator generator = at::detail::createCPUGenerator(seed);
  return vectors.index_select(0, torch::randperm(vectors.size(0), generator, torch::kLong).narrow(0, 0, limit));
}

void Index::set_parameter(const std::string& name, double /*value*/) {
  throw UsageError(spec() + " has no query-time parameter '" + name + "' (IVF indexes take nprobe, HNSW indexes efSearch)");
}

at::Tensor Index::vector(int64_t /*id*/) const {
  throw UsageError(spec() + ": this backend cannot give back stored vectors");
}

void Index::copy_vectors(const int64_t* ids, int64_t count, float* out) const {
  const int64_t d = dim();
  for (int64_t i = 0; i < count; ++i) {
    if (ids[i] == -1)
      std::fill(out + i * d, out + (i + 1) * d, 0.0f);
    else
      copy_vector(ids[i], out + i * d);
  }
}

void Index::copy_vector(int64_t id, float* out) const {
  const at::Tensor v = vector(id).contiguous();
  std::copy(v.data_ptr<float>(), v.data_ptr<float>() + v.numel(), out);
}

void Index::remove_ids(const std::vector<int64_t>& /*ids*/) {
  throw UsageError(spec() + ": this index cannot remove items (exact indexes and FAISS Flat, PQ, SQ and LSH indexes can; "
                            "IVF and HNSW indexes cannot)");
}

std::vector<int64_t> ids_to_remove(std::vector<int64_t> ids, int64_t size) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  for (int64_t id : ids)
    if (id < 0 || id >= size)
      throw Error("item " + std::to_string(id) + " is not in the index (ids 0.." + std::to_string(size - 1) + ")");
  return ids;
}

RangeResult Index::range_search(const at::Tensor& /*queries*/, double /*radius*/, const SearchParams& /*params*/) const {
  throw UsageError(spec() + ": no range search in this backend");
}

at::Tensor similarity(const at::Tensor& queries, const at::Tensor& database, Metric metric) {
  check_embeddings(queries, "queries");
  const PreparedDatabase prepared = prepare_database(database, metric, database.device());
  return similarity_block(queries, prepared).to(torch::kCPU).contiguous();
}

}  // namespace imret::search
