#pragma once
// The evaluation driver used by `imret evaluate` and `imret demo`: every query
// ranked against the whole database, metrics per query, means.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <vector>

#include "imret/eval/metrics.hpp"
#include "imret/eval/relevance.hpp"
#include "imret/search/index.hpp"

namespace imret::eval {

struct RetrievalEvaluation {
  Summary summary;
  std::vector<QueryMetrics> per_query;  // in query order; only when keep_per_query
};

// Ranks the whole database for every query (queries Q x D, database N x D,
// any floating dtype) by `metric`, grades with `relevance` (Q queries, N
// items, checked) and computes the metrics. Similarities are computed on
// `device` for blocks of 256 queries (never the whole Q x N matrix), the
// per-query metrics in parallel on LibTorch's intra-op threads. Shows an
// imret::Progress "evaluate". Deterministic: same inputs, same numbers,
// whatever the thread count. Throws imret::Error on mismatched shapes.
RetrievalEvaluation evaluate_retrieval(const at::Tensor& queries, const at::Tensor& database, search::Metric metric,
                                       const Relevance& relevance, const MetricOptions& options,
                                       bool keep_per_query = false, c10::Device device = c10::kCPU);

// The metric half of evaluate_retrieval, for callers that already hold the
// scores: `rows` rows of relevance.database_size() scores (row-major, higher =
// more similar) for queries first_query .. first_query + rows - 1. Writes
// out[0 .. rows), in parallel (at::parallel_for).
void evaluate_score_rows(const float* scores, int64_t rows, int64_t first_query, const Relevance& relevance,
                         const MetricOptions& options, QueryMetrics* out);

}  // namespace imret::eval
