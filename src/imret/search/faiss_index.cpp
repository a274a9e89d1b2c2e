#include "imret/search/faiss_index.hpp"

#include <faiss/AutoTune.h>
#include <faiss/IVFlib.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/VectorTransform.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <new>
#include <limits>
#include <sstream>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/internal_error.hpp"
#include "imret/core/progress.hpp"
#include "imret/search/faiss_search.hpp"
#include "imret/search/similarity.hpp"

namespace imret::search {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kChunk = 65536;            // vectors per add() call to FAISS (progress between them)
constexpr int64_t kProgressFrom = 200000;    // show progress for adds and searches this large
constexpr int64_t kPointsPerCentroid = 39;   // FAISS's own minimum for k-means without a warning

faiss::MetricType faiss_metric(Metric metric) {
  return metric == Metric::Cosine ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
}

// The largest number of k-means centroids that training the index learns
// (IVF coarse centroids, PQ / OPQ codebooks): FAISS needs at least that many
// training points, and asks for 39 times as many.
int64_t centroids_to_train(const faiss::Index* index) {
  int64_t centroids = 0;
  if (const auto* pre = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
    for (const faiss::VectorTransform* transform : pre->chain)
      if (dynamic_cast<const faiss::OPQMatrix*>(transform)) centroids = std::max<int64_t>(centroids, 256);
    centroids = std::max(centroids, centroids_to_train(pre->index));
  }
  if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index))
    centroids = std::max<int64_t>(centroids, static_cast<int64_t>(ivf->nlist));
  if (const auto* ivfpq = dynamic_cast<const faiss::IndexIVFPQ*>(index))
    centroids = std::max<int64_t>(centroids, static_cast<int64_t>(ivfpq->pq.ksub));
  if (const auto* pq = dynamic_cast<const faiss::IndexPQ*>(index))
    centroids = std::max<int64_t>(centroids, static_cast<int64_t>(pq->pq.ksub));
  return centroids;
}

// Training settings imret changes from index_factory's:
//  - imret warns about small training sets itself (once, with the index
//    named); FAISS's k-means would print its own warning for every clustering;
//  - no polysemous training: a simulated-annealing reordering of the PQ codes
//    that only polysemous search (the `ht` parameter) uses. It does not change
//    the codebooks or plain search results, and it takes minutes.
void adjust_training(faiss::Index* index) {
  if (auto* pre = dynamic_cast<faiss::IndexPreTransform*>(index)) adjust_training(pre->index);
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(index)) ivf->cp.min_points_per_centroid = 1;
  if (auto* ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(index)) {
    ivfpq->pq.cp.min_points_per_centroid = 1;
    ivfpq->do_polysemous_training = false;
  }
  if (auto* pq = dynamic_cast<faiss::IndexPQ*>(index)) {
    pq->pq.cp.min_points_per_centroid = 1;
    pq->do_polysemous_training = false;
  }
}

// FAISS parallelises with OpenMP and calls BLAS inside its loops (k-means,
// PQ training). An OpenBLAS built with pthreads (Debian's) then runs its own
// threads beside OpenMP's, and on few cores the two spin against each other:
// training an IVF256,PQ16 on 60k vectors took 25 s instead of 8.6 s on 2 cores.
// While FAISS trains or adds, BLAS gets one thread (found at run time: other
// BLAS libraries have no such call and are left alone). Searches keep BLAS's
// threads: FAISS's exact search is one large matrix product.
class OneBlasThread {
 public:
  OneBlasThread() {
    static const auto get = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    static const auto set = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    if (!get || !set) return;
    set_ = set;
    threads_ = get();
    set_(1);
  }
  ~OneBlasThread() {
    if (set_) set_(threads_);
  }
  OneBlasThread(const OneBlasThread&) = delete;
  OneBlasThread& operator=(const OneBlasThread&) = delete;

 private:
  void (*set_)(int) = nullptr;
  int threads_ = 1;
};

// FAISS's own words without its "Error in <function> at <file>:<line>: "
// prefix and the "Error: '<condition>' failed: " of its assertions.
std::string reason(const std::exception& e) {
  const auto* faiss_error = dynamic_cast<const faiss::FaissException*>(&e);
  std::string text = faiss_error ? faiss_error->msg : e.what();
  const size_t at = text.find(": ", text.find(" at "));
  if (text.rfind("Error in ", 0) == 0 && at != std::string::npos) text = text.substr(at + 2);
  if (text.rfind("Error: ", 0) == 0) text = text.substr(7);
  const size_t failed = text.find("' failed: ");
  if (text.rfind("'", 0) == 0 && failed != std::string::npos) text = text.substr(failed + 10);
  // Some carry a backtrace after a newline, FAISS's formatted ones their buffer's NUL.
  text = text.substr(0, text.find_first_of(std::string("\n\0", 2)));
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

std::string too_few_training_vectors(const std::string& name, int64_t n, int64_t centroids) {
  return name + ": " + std::to_string(n) + " training vectors are too few to train its " + std::to_string(centroids) +
         " k-means centroids (at least one vector per centroid, and FAISS asks for " +
         std::to_string(kPointsPerCentroid) + " per centroid); use fewer IVF lists or PQ bits, or more data";
}

// The PQ<M> / OPQ<M> sizes of a factory string that do not divide `dim`.
std::string pq_sizes_not_dividing(const std::string& factory, int64_t dim) {
  std::string found;
  for (size_t at = factory.find("PQ"); at != std::string::npos; at = factory.find("PQ", at + 2)) {
    const size_t digits = std::min(factory.find_first_not_of("0123456789", at + 2), factory.size());
    const std::string m = factory.substr(at + 2, digits - at - 2);
    if (m.empty() || m.size() > 9 || dim % std::stoll(m) == 0) continue;
    const size_t from = at > 0 && factory[at - 1] == 'O' ? at - 1 : at;
    found += (found.empty() ? "" : ", ") + factory.substr(from, digits - from);
  }
  return found;
}

// Throws one line for a failed FAISS call on the index `name` (e.g.
// "faiss:IVF256,PQ16") of `dim`-d vectors while `doing` (e.g. "training on 100
// vectors"): the frequent failures in a user's terms, others in FAISS's words.
// UsageError where the factory string is at fault (always when `making`).
[[noreturn]] void throw_faiss_failure(const std::string& name, const std::string& factory, int64_t dim,
                                      const std::string& doing, const std::exception& e, bool making = false) {
  if (dynamic_cast<const std::bad_alloc*>(&e)) throw Error(name + ": out of memory " + doing);
  const std::string why = reason(e);
  long long points = 0, clusters = 0;
  if (std::sscanf(why.c_str(), "Number of training points (%lld) should be at least as large as number of clusters (%lld)",
                  &points, &clusters) == 2)
    throw Error(too_few_training_vectors(name, points, clusters));
  if (why.find("could not parse") != std::string::npos)
    throw UsageError(name + ": not a valid FAISS index_factory string for " + std::to_string(dim) +
                     "-d vectors: FAISS cannot parse it (examples: Flat, IVF256,Flat, IVF256,PQ16, HNSW32)");
  if (why.find("multiple of the number of subquantizers") != std::string::npos) {
    const std::string sizes = pq_sizes_not_dividing(factory, dim);
    throw UsageError(name + ": product quantization cannot split " + std::to_string(dim) + "-d vectors into " +
                     (sizes.empty() ? "M" : sizes + "'s") + " sub-vectors; M must divide the dimension");
  }
  if (making)
    throw UsageError(name + ": not a valid FAISS index_factory string for " + std::to_string(dim) + "-d vectors: " + why);
  throw Error(name + ": " + doing + " failed: " + why);
}

// A 0 in an index_factory string (PQ0, IVF0,Flat, HNSW0, PQ8x0) makes FAISS
// divide by zero or fail an assertion, which ends the process: refused first.
void check_no_zero_sizes(const std::string& factory) {
  for (size_t start = factory.find_first_of("0123456789"); start != std::string::npos;
       start = factory.find_first_of("0123456789", start)) {
    const size_t end = std::min(factory.find_first_not_of("0123456789", start), factory.size());
    if (factory.find_first_not_of('0', start) >= end)
      throw UsageError("faiss:" + factory + ": a size of 0 (lists, sub-quantizers, bits, links) is not valid; "
                       "e.g. faiss:IVF256,PQ16");
    start = end;
  }
}

}  // namespace

FaissIndex::FaissIndex(std::string factory, Metric metric) : factory_(std::move(factory)), metric_(metric) {
  if (factory_.empty()) throw UsageError("faiss: needs an index_factory string, e.g. faiss:Flat or faiss:IVF256,Flat");
  check_no_zero_sizes(factory_);
}

FaissIndex::~FaissIndex() = default;

std::unique_ptr<FaissIndex> FaissIndex::load(std::string factory, Metric metric, const fs::path& file) {
  if (!fs::is_regular_file(file)) throw Error(file.string() + ": no such index file");
  auto index = std::make_unique<FaissIndex>(std::move(factory), metric);
  try {
    index->index_.reset(faiss::read_index(file.c_str()));
  } catch (const std::bad_alloc&) {
    throw Error(file.string() + ": out of memory reading the FAISS index");
  } catch (const std::exception& e) {
    throw Error(file.string() + ": not a readable FAISS index (" + reason(e) + ")");
  }
  if (index->index_->metric_type != faiss_metric(metric))
    throw Error(file.string() + ": the FAISS index uses " +
                (index->index_->metric_type == faiss::METRIC_L2 ? std::string("the L2 metric")
                                                                 : std::string("another metric than L2")) +
                ", not what " + to_string(metric) + " search needs");
  return index;
}

void FaissIndex::create(int64_t dim) {
  if (index_) {
    if (dim != index_->d)
      throw Error("faiss:" + factory_ + ": vectors have " + std::to_string(dim) + " dimensions, the index " +
                  std::to_string(index_->d));
    return;
  }
  try {
    index_.reset(faiss::index_factory(static_cast<int>(dim), factory_.c_str(), faiss_metric(metric_)));
  } catch (const std::exception& e) {
    throw_faiss_failure(spec(), factory_, dim, "making the index", e, /*making=*/true);
  }
  adjust_training(index_.get());
  for (const auto& [name, value] : parameters_) apply_parameter(name, value);
}

at::Tensor FaissIndex::prepare(const at::Tensor& vectors, const char* what) const {
  check_embeddings(vectors, what);
  at::Tensor prepared = vectors.to(torch::kCPU, torch::kFloat32);
  if (metric_ == Metric::Cosine)
    prepared = unit_rows(prepared);
  return prepared.contiguous();
}

bool FaissIndex::needs_training() const { return index_ ? !index_->is_trained : true; }

int64_t FaissIndex::min_training_points() const {
  return index_ ? kPointsPerCentroid * centroids_to_train(index_.get()) : 0;
}

void FaissIndex::train(const at::Tensor& sample_in) {
  const at::Tensor sample = prepare(sample_in, "FaissIndex::train");
  create(sample.size(1));
  if (index_->is_trained) return;
  const int64_t n = sample.size(0);
  const int64_t centroids = centroids_to_train(index_.get());
  if (n < centroids) throw Error(too_few_training_vectors(spec(), n, centroids));
  if (n < kPointsPerCentroid * centroids)
    spdlog::warn("faiss:{}: training on {} points, fewer than the {} it asks for ({} per centroid x {} centroids); "
                 "the centroids will be poor",
                 factory_, n, kPointsPerCentroid * centroids, kPointsPerCentroid, centroids);
  try {
    OneBlasThread one_blas_thread;
    index_->train(n, sample.data_ptr<float>());
    trained_on_ = n;
  } catch (const std::exception& e) {
    throw_faiss_failure(spec(), factory_, dim(), "training on " + std::to_string(n) + " vectors", e);
  }
}

void FaissIndex::add(const at::Tensor& embeddings) {
  const at::Tensor vectors = prepare(embeddings, "FaissIndex::add");
  create(vectors.size(1));
  const int64_t n = vectors.size(0);
  if (n == 0) return;
  if (!index_->is_trained)
    throw Error("faiss:" + factory_ + ": the index must be trained before vectors are added");
  std::unique_ptr<Progress> progress;
  if (n >= kProgressFrom) progress = std::make_unique<Progress>("index add", n, "vec");
  try {
    OneBlasThread one_blas_thread;
    for (int64_t start = 0; start < n; start += kChunk) {
      const int64_t count = std::min(kChunk, n - start);
      index_->add(count, vectors.data_ptr<float>() + start * vectors.size(1));
      if (progress) progress->advance(count);
    }
  } catch (const std::exception& e) {
    throw_faiss_failure(spec(), factory_, dim(), "adding " + std::to_string(n) + " vectors", e);
  }
  if (progress) progress->finish();
}

SearchResult FaissIndex::search(const at::Tensor& queries_in, int64_t k, const SearchParams& params) const {
  const std::string name = "faiss:" + factory_;
  if (size() == 0) throw Error(name + ": the index is empty; add embeddings before searching");
  if (k <= 0) throw Error(name + ": k must be >= 1 (got " + std::to_string(k) + ")");
  const FaissSearch faiss_search(*index_, params, name);
  const at::Tensor queries = prepare(queries_in, "FaissIndex::search: queries");
  if (queries.size(1) != dim())
    throw Error(name + ": queries have " + std::to_string(queries.size(1)) + " dimensions, the index " +
                std::to_string(dim()));
  const int64_t nq = queries.size(0);
  // FAISS fills every one of the k columns; more than the index holds are -1.
  at::Tensor distances = torch::empty({nq, k}, torch::kFloat32);
  at::Tensor labels = torch::empty({nq, k}, torch::kInt64);
  static_assert(sizeof(faiss::Index::idx_t) == sizeof(int64_t), "FAISS ids are 64-bit");
  std::unique_ptr<Progress> progress;
  if (nq * size() >= kProgressFrom * 10000) progress = std::make_unique<Progress>("search", nq, "queries");
  const int64_t block = progress ? 1024 : std::max<int64_t>(nq, 1);
  try {
    for (int64_t start = 0; start < nq; start += block) {
      const int64_t count = std::min(block, nq - start);
      faiss_search.search(count, queries.data_ptr<float>() + start * dim(), k, distances.data_ptr<float>() + start * k,
                          labels.data_ptr<int64_t>() + start * k);
      if (progress) progress->advance(count);
    }
  } catch (const std::exception& e) {
    throw_faiss_failure(name, factory_, dim(), "searching " + std::to_string(nq) + " queries", e);
  }
  if (progress) progress->finish();
  const at::Tensor missing = labels.lt(0);
  SearchResult result;
  result.metric = metric_;
  result.ids = labels.masked_fill(missing, -1);
  if (metric_ == Metric::Euclidean)
    result.scores = distances.clamp_min(0).sqrt_().masked_fill_(missing, std::numeric_limits<float>::infinity());
  else
    result.scores = distances.masked_fill(missing, -std::numeric_limits<float>::infinity());
  return result;
}

RangeResult FaissIndex::range_search(const at::Tensor& queries_in, double radius, const SearchParams& params) const {
  const std::string name = "faiss:" + factory_;
  if (size() == 0) throw Error(name + ": the index is empty; add embeddings before searching");
  const FaissSearch faiss_search(*index_, params, name);
  const at::Tensor queries = prepare(queries_in, "FaissIndex::range_search: queries");
  if (queries.size(1) != dim())
    throw Error(name + ": queries have " + std::to_string(queries.size(1)) + " dimensions, the index " +
                std::to_string(dim()));
  const int64_t nq = queries.size(0);
  const bool euclidean = metric_ == Metric::Euclidean;
  if (euclidean && radius <= 0) throw Error(name + ": the radius of a Euclidean range search must be > 0");
  faiss::RangeSearchResult found(nq);
  try {
    faiss_search.range_search(nq, queries.data_ptr<float>(), static_cast<float>(euclidean ? radius * radius : radius),
                              &found);
  } catch (const std::bad_alloc& e) {
    throw_faiss_failure(name, factory_, dim(), "in a range search", e);
  } catch (const std::exception& e) {
    throw UsageError(name + ": no range search (" + reason(e) + ")");
  }
  // FAISS returns each query's results unordered: sort them, best first.
  RangeResult result;
  result.metric = metric_;
  result.lims = torch::empty({nq + 1}, torch::kInt64);
  const int64_t total = static_cast<int64_t>(found.lims[nq]);
  result.ids = torch::empty({total}, torch::kInt64);
  result.scores = torch::empty({total}, torch::kFloat32);
  auto lims = result.lims.accessor<int64_t, 1>();
  auto ids = result.ids.accessor<int64_t, 1>();
  auto scores = result.scores.accessor<float, 1>();
  std::vector<std::pair<float, int64_t>> hits;
  for (int64_t q = 0; q < nq; ++q) {
    lims[q] = static_cast<int64_t>(found.lims[q]);
    hits.clear();
    for (size_t j = found.lims[q]; j < found.lims[q + 1]; ++j)
      hits.emplace_back(euclidean ? std::sqrt(std::max(found.distances[j], 0.0f)) : found.distances[j],
                        static_cast<int64_t>(found.labels[j]));
    std::sort(hits.begin(), hits.end(), [&](const auto& a, const auto& b) {
      if (a.first != b.first) return euclidean ? a.first < b.first : a.first > b.first;
      return a.second < b.second;
    });
    for (size_t j = 0; j < hits.size(); ++j) {
      scores[lims[q] + static_cast<int64_t>(j)] = hits[j].first;
      ids[lims[q] + static_cast<int64_t>(j)] = hits[j].second;
    }
  }
  lims[nq] = total;
  return result;
}

int64_t FaissIndex::size() const { return index_ ? static_cast<int64_t>(index_->ntotal) : 0; }

int64_t FaissIndex::dim() const { return index_ ? static_cast<int64_t>(index_->d) : 0; }

std::string FaissIndex::describe() const {
  std::ostringstream out;
  out << "faiss:" << factory_ << " (" << to_string(metric_) << ", " << size() << " vectors, dim " << dim();
  for (const auto& [name, value] : parameters_) out << ", " << name << " " << value;
  out << ")";
  return out.str();
}

void FaissIndex::set_parameter(const std::string& name, double value) {
  if (index_) apply_parameter(name, value);  // else when the index is made (create())
  auto it = std::find_if(parameters_.begin(), parameters_.end(), [&](const auto& p) { return p.first == name; });
  if (it != parameters_.end()) it->second = value;
  else parameters_.emplace_back(name, value);
}

void FaissIndex::apply_parameter(const std::string& name, double value) {
  // Build-time: HNSW's candidate list while linking new vectors (FAISS default 40).
  if (name == "efConstruction") {
    faiss::Index* inner = index_.get();
    if (auto* pre = dynamic_cast<faiss::IndexPreTransform*>(inner)) inner = pre->index;
    auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(inner);
    if (!hnsw) throw UsageError("faiss:" + factory_ + " has no parameter 'efConstruction' (HNSW indexes have)");
    if (value < 1) throw UsageError("efConstruction must be >= 1");
    hnsw->hnsw.efConstruction = static_cast<int>(value);
    return;
  }
  try {
    faiss::ParameterSpace().set_index_parameter(index_.get(), name, value);
  } catch (const faiss::FaissException&) {
    throw UsageError("faiss:" + factory_ + " has no query-time parameter '" + name +
                     "' (IVF indexes take nprobe, HNSW indexes efSearch and efConstruction)");
  }
}

void FaissIndex::copy_vector(int64_t id, float* out) const {
  if (!index_ || id < 0 || id >= size())
    throw Error("item " + std::to_string(id) + " is not in the index (ids 0.." + std::to_string(size() - 1) + ")");
  // An IVF index finds a vector's list through a direct map, made once.
  std::call_once(direct_map_made_, [this] {
    if (faiss::IndexIVF* ivf = faiss::ivflib::try_extract_index_ivf(index_.get())) ivf->make_direct_map(true);
  });
  try {
    index_->reconstruct(id, out);
  } catch (const faiss::FaissException& e) {
    throw UsageError(spec() + ": cannot give back the vector of item " + std::to_string(id) + " (" + e.msg + ")");
  }
}

at::Tensor FaissIndex::vector(int64_t id) const {
  at::Tensor out = torch::empty({1, dim()}, torch::kFloat32);
  copy_vector(id, out.data_ptr<float>());
  return out;
}

namespace {

// The index that holds the codes, under any pre-transforms (OPQ, PCA...).
const faiss::Index* code_holder(const faiss::Index* index) {
  while (const auto* pre = dynamic_cast<const faiss::IndexPreTransform*>(index)) index = pre->index;
  return index;
}

}  // namespace

bool FaissIndex::can_remove() const {
  // FAISS's IndexFlatCodes::remove_ids compacts its array, keeping ids dense;
  // IVF lists keep the old ids (gaps) and HNSW graphs cannot remove at all.
  if (!index_) return true;
  return dynamic_cast<const faiss::IndexFlatCodes*>(code_holder(index_.get())) != nullptr;
}

void FaissIndex::remove_ids(const std::vector<int64_t>& ids) {
  if (!can_remove()) Index::remove_ids(ids);  // the UsageError naming those that can
  const std::vector<int64_t> removed = ids_to_remove(ids, size());
  if (removed.empty()) return;
  const faiss::IDSelectorBatch selector(removed.size(), removed.data());
  size_t count = 0;
  try {
    count = index_->remove_ids(selector);
  } catch (const std::exception& e) {
    throw_faiss_failure(spec(), factory_, dim(), "removing items", e);
  }
  if (count != removed.size())
    throw InternalError(spec() + ": FAISS removed " + std::to_string(count) + " of " + std::to_string(removed.size()) +
                        " items");
}

int64_t FaissIndex::memory_bytes() const {
  if (!index_) return 0;
  faiss::VectorIOWriter writer;
  try {
    faiss::write_index(index_.get(), &writer);
  } catch (const std::exception& e) {
    throw_faiss_failure(spec(), factory_, dim(), "measuring the index", e);
  }
  return static_cast<int64_t>(writer.data.size());
}

void FaissIndex::save(const fs::path& file) const {
  if (!index_) throw Error(file.string() + ": nothing to save, the FAISS index was never built");
  write_via_temp(file, [&](const fs::path& temp) {
    try {
      faiss::write_index(index_.get(), temp.c_str());
    } catch (const std::exception& e) {
      throw Error(file.string() + ": cannot write the FAISS index (" + reason(e) + ")");
    }
  });
}

}  // namespace imret::search
