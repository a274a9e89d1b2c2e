#pragma once
// search::Index: nearest-neighbour search over a database of embeddings.
// One implementation per backend (exact_index.hpp: exact search in LibTorch;
// faiss_index.hpp: FAISS indexes); make_index builds one from a spec string,
// as FAISS's index_factory does, and load_index reads one back from its file.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "imret/search/search_params.hpp"

namespace imret::search {

enum class Metric { Euclidean, Cosine };

// "euclidean" | "l2" | "cosine" (any case); anything else throws UsageError.
Metric parse_metric(const std::string& text);
// "euclidean" | "cosine".
std::string to_string(Metric metric);

struct SearchResult {
  at::Tensor ids;     // Q x k int64 on CPU, best first; -1 where k > index size
  at::Tensor scores;  // Q x k float32 on CPU: Euclidean distance (ascending, +inf padding)
                      // or cosine similarity (descending, -inf padding)
  Metric metric = Metric::Euclidean;  // how to read `scores`
};

// Range search: every database item within `radius` of each query, best first.
// Euclidean: distance < radius; cosine: similarity > radius (FAISS's rule).
struct RangeResult {
  at::Tensor lims;    // Q + 1 int64: query q's results are [lims[q], lims[q + 1])
  at::Tensor ids;     // lims[Q] int64
  at::Tensor scores;  // lims[Q] float32, read as SearchResult::scores
  Metric metric = Metric::Euclidean;
};

class Index {
 public:
  virtual ~Index() = default;
  // Whether search() needs a train() first (IVF and PQ indexes do).
  virtual bool needs_training() const { return false; }
  // Learns the index's structure (coarse centroids, codebooks) from N x D
  // sample vectors. Throws imret::Error when there are too few to train at
  // all; warns when fewer than the index asks for (min_training_points()).
  virtual void train(const at::Tensor& /*sample*/) {}
  // The number of training points the index asks for (FAISS: 39 per
  // centroid); 0 for indexes without training.
  virtual int64_t min_training_points() const { return 0; }
  // The points the last train() learned from; 0 when nothing was trained
  // (a FAISS index made before its kind is known, e.g. HNSW, needs none).
  virtual int64_t trained_on() const { return 0; }
  // Appends N x D embeddings (any floating dtype and device); ids continue
  // from size(). The first add sets dim(); later adds must match it.
  virtual void add(const at::Tensor& embeddings) = 0;
  // The k nearest database items of each of the Q x D queries. `params`
  // override the saved parameters (set_parameter) for this call only.
  // Throws imret::Error when the index is empty, k <= 0 or D != dim(), and
  // UsageError naming the valid ones for a parameter this index cannot take
  // per call. Safe to call from several threads at once (const: nothing is
  // changed, not even for one call).
  virtual SearchResult search(const at::Tensor& queries, int64_t k, const SearchParams& params = {}) const = 0;
  virtual int64_t size() const = 0;
  virtual int64_t dim() const = 0;  // 0 until the first add
  virtual Metric metric() const = 0;
  virtual std::string describe() const = 0;  // one line, for logs and manifests
  // The spec string that make_index() takes to build this kind of index.
  virtual std::string spec() const = 0;
  // A saved parameter: the default of every search ("nprobe", "efSearch",
  // ...) that the SearchParams of a call override, or, set before the
  // vectors are added, a build-time one ("efConstruction"). Index folders
  // record them (parameters()) and set them again on load. Not for
  // per-request values: it changes the index for every caller; pass
  // SearchParams to search() instead. Throws UsageError when the index has no
  // such parameter (a FAISS index not made yet checks when it is made, at the
  // first train() or add()).
  virtual void set_parameter(const std::string& name, double value);
  // The saved parameters (name -> value), for manifests and tables.
  virtual std::vector<std::pair<std::string, double>> parameters() const { return {}; }
  // Range search, with per-call `params` as search(); throws UsageError when
  // the backend has none.
  virtual RangeResult range_search(const at::Tensor& queries, double radius, const SearchParams& params = {}) const;
  // The stored vector of item `id` as a 1 x D float32 CPU tensor, as the
  // index keeps it (L2-normalised for cosine; decoded from its codes for a
  // compressing FAISS index): a query "more like this item". Error for an id
  // out of range; UsageError when the backend cannot give vectors back.
  virtual at::Tensor vector(int64_t id) const;
  // vector() for many items at once: the rows of ids[0 .. count) into `out`
  // (count x dim() float32, row-major). An id of -1 (search padding) gives a
  // row of zeros; other ids out of range throw Error.
  void copy_vectors(const int64_t* ids, int64_t count, float* out) const;
  // One item's stored vector into `out` (dim() floats), without a tensor:
  // what copy_vectors calls per id. The default copies vector(id).
  virtual void copy_vector(int64_t id, float* out) const;
  // Whether remove_ids() works here: exact indexes and FAISS indexes that
  // keep their codes in one flat array (Flat, PQ, SQ, LSH) can; IVF and
  // HNSW indexes cannot without renumbering their lists or graph.
  virtual bool can_remove() const { return false; }
  // Removes the items `ids` (any order; duplicates count once). Ids stay
  // dense, as FAISS's IndexFlat keeps them: every item after a removed one
  // moves down by one. Error for an id out of range; UsageError naming the
  // backends that can when this one cannot (can_remove()).
  virtual void remove_ids(const std::vector<int64_t>& ids);
  // Bytes the index holds (its serialised size for FAISS).
  virtual int64_t memory_bytes() const = 0;
  // Writes the index to `file` atomically (temp file, then rename).
  virtual void save(const std::filesystem::path& file) const = 0;
};

// Builds an index from a spec:
//  - "exact" (Euclidean), "exact:l2", "exact:euclidean", "exact:cosine";
//  - "faiss:<index_factory string>" ("faiss:Flat", "faiss:IVF256,Flat",
//    "faiss:IVF1024,PQ16", "faiss:HNSW32", "faiss:OPQ16,IVF256,PQ16"...),
//    Euclidean unless `metric` says cosine (inner product on L2-normalised vectors).
// For exact specs the metric in the spec wins; `metric` is the default.
// Unknown specs, and faiss specs in a build without FAISS, throw UsageError.
std::unique_ptr<Index> make_index(const std::string& spec, c10::Device device,
                                  Metric metric = Metric::Euclidean);

// Reads an index that Index::save wrote, for the spec it was built from.
// A missing, truncated or foreign file throws imret::Error naming the file.
std::unique_ptr<Index> load_index(const std::string& spec, Metric metric, const std::filesystem::path& file,
                                  c10::Device device);

// The rows to train an index on: all of `vectors`, or `limit` of them drawn
// at random (seeded) when 0 < limit < their count.
at::Tensor training_sample(const at::Tensor& vectors, int64_t limit, uint64_t seed);

// The ids to remove from an index of `size` items, sorted, without
// duplicates. Error naming the first id out of range.
std::vector<int64_t> ids_to_remove(std::vector<int64_t> ids, int64_t size);

// Whether this build has the FAISS backends.
bool has_faiss();

// Full similarity matrix (higher = more similar): minus the Euclidean distance
// or the cosine similarity. queries Q x D, database N x D (any floating dtype,
// same device); computed on the database's device, returned as Q x N float32
// on CPU. Throws imret::Error on a dimension mismatch.
at::Tensor similarity(const at::Tensor& queries, const at::Tensor& database, Metric metric);

}  // namespace imret::search
