#pragma once
// Building blocks shared by the exact index and the evaluation driver: a
// database prepared once (on its device) and similarity blocks against it.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cmath>
#include <cstdint>

#include "imret/search/index.hpp"

namespace imret::search {

struct PreparedDatabase {
  Metric metric = Metric::Euclidean;
  at::Tensor vectors;        // N x D float32, contiguous; rows L2-normalised for cosine
  at::Tensor squared_norms;  // N float32 (Euclidean only)

  int64_t size() const { return vectors.defined() ? vectors.size(0) : 0; }
  // Rows [start, start + length) without copying.
  PreparedDatabase slice(int64_t start, int64_t length) const;
};

// Rows scaled to unit L2 norm (norms below 1e-12 count as 1e-12).
at::Tensor unit_rows(const at::Tensor& x);

// Needs a 2-D floating tensor; throws imret::Error otherwise.
PreparedDatabase prepare_database(const at::Tensor& database, Metric metric, c10::Device device);

// Q x N float32 on the database's device, higher = more similar: minus the
// Euclidean distance (sqrt(max(|q|^2 - 2 q.d + |d|^2, 0))) or the cosine
// similarity. Needs queries Q x D with D = the database's dimension (checked).
at::Tensor similarity_block(const at::Tensor& queries, const PreparedDatabase& database);

// Q x N float32 on the database's device that ranks like similarity_block
// but is cheaper: cosine similarity, or q.d - |d|^2 / 2 for Euclidean (half
// the squared distance, negated, without the query's own |q|^2). Use
// distance_from_ranking for the few values kept.
at::Tensor ranking_block(const at::Tensor& queries, const PreparedDatabase& database);

// Euclidean distance from a ranking value and the query's |q|^2:
// sqrt(max(|q|^2 - 2 ranking, 0)).
inline float distance_from_ranking(float ranking, float query_squared_norm) {
  const float d2 = query_squared_norm - 2.0f * ranking;
  return d2 > 0 ? std::sqrt(d2) : 0.0f;
}

// Throws imret::Error unless `t` is a 2-D floating tensor; `what` names it.
void check_embeddings(const at::Tensor& t, const char* what);

}  // namespace imret::search
