#pragma once
// The evaluation driver used by `imret evaluate` and `imret demo`: every query
// ranked against the whole database, metrics per query, means; and the
// several-relevance variant (COCO: selection, aggregation, weighted) that
// ranks once and grades each ranking with every relevance.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "imret/eval/metrics.hpp"
#include "imret/eval/relevance.hpp"
#include "imret/search/index.hpp"

namespace imret::eval {

// Scores of a block of Q x D queries against the whole database (Q x N
// float32 on the CPU, higher = more similar), in place of the plain
// similarities: a re-ranked full ranking (rerank::FullRanking).
using ScoreBlock = std::function<at::Tensor(const at::Tensor& queries)>;

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
// With options.graded() the gains come from relevance.gain_row.
// The one-relevance case of evaluate_retrieval_modes.
RetrievalEvaluation evaluate_retrieval(const at::Tensor& queries, const at::Tensor& database, search::Metric metric,
                                       const Relevance& relevance, const MetricOptions& options,
                                       bool keep_per_query = false, c10::Device device = c10::kCPU,
                                       const ScoreBlock& score_block = {});

// As evaluate_retrieval, for several relevances at once: the similarities are
// computed once per block of 256 queries and every relevance grades the same
// scores. Returns one evaluation per relevance, in order; result[i] equals
// evaluate_retrieval(..., *relevances[i], ...). Every relevance must be for
// Q queries x N items and not null (imret::Error otherwise); needs at least one.
// With `score_block`, each block's scores come from it instead.
std::vector<RetrievalEvaluation> evaluate_retrieval_modes(const at::Tensor& queries, const at::Tensor& database,
                                                          search::Metric metric,
                                                          const std::vector<const Relevance*>& relevances,
                                                          const MetricOptions& options, bool keep_per_query = false,
                                                          c10::Device device = c10::kCPU,
                                                          const ScoreBlock& score_block = {});

// The metric half of evaluate_retrieval, for callers that already hold the
// scores: `rows` rows of relevance.database_size() scores (row-major, higher =
// more similar) for queries first_query .. first_query + rows - 1. Writes
// out[0 .. rows), in parallel (at::parallel_for). Gains (relevance.gain_row)
// are read only when options.graded().
void evaluate_score_rows(const float* scores, int64_t rows, int64_t first_query, const Relevance& relevance,
                         const MetricOptions& options, QueryMetrics* out);

// The summaries of several relevance modes side by side: one row per metric
// (queries, queries without relevant, mAP, mAP@R, P@K, R@K, then nDCG@K,
// graded mAP and queries without gain when computed), one column per mode
// (`first` names it). A metric a mode lacks shows "-". modes_table aligns
// columns for the terminal; modes_markdown writes a GitHub markdown table.
std::string modes_table(const std::vector<std::pair<std::string, Summary>>& modes);
std::string modes_markdown(const std::vector<std::pair<std::string, Summary>>& modes);

}  // namespace imret::eval
