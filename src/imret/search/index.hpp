#pragma once
// search::Index: nearest-neighbour search over a database of embeddings.
// One implementation per backend (exact_index.hpp: exact search in LibTorch);
// make_index builds one from a spec string, as FAISS's index_factory does.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <string>

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

class Index {
 public:
  virtual ~Index() = default;
  // Appends N x D embeddings (any floating dtype and device); ids continue
  // from size(). The first add sets dim(); later adds must match it.
  virtual void add(const at::Tensor& embeddings) = 0;
  // The k nearest database items of each of the Q x D queries.
  // Throws imret::Error when the index is empty, k <= 0 or D != dim().
  virtual SearchResult search(const at::Tensor& queries, int64_t k) const = 0;
  virtual int64_t size() const = 0;
  virtual int64_t dim() const = 0;  // 0 until the first add
  virtual Metric metric() const = 0;
  virtual std::string describe() const = 0;  // one line, for logs and manifests
};

// Builds an index from a spec: "exact" (Euclidean), "exact:l2",
// "exact:euclidean", "exact:cosine". Unknown specs throw UsageError listing
// the valid ones.
std::unique_ptr<Index> make_index(const std::string& spec, c10::Device device);

// Full similarity matrix (higher = more similar): minus the Euclidean distance
// or the cosine similarity. queries Q x D, database N x D (any floating dtype,
// same device); computed on the database's device, returned as Q x N float32
// on CPU. Throws imret::Error on a dimension mismatch.
at::Tensor similarity(const at::Tensor& queries, const at::Tensor& database, Metric metric);

}  // namespace imret::search
