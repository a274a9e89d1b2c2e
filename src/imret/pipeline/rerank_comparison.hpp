#pragma once
// Re-ranking methods compared on the same embeddings (`imret evaluate
// --rerank SPEC...`, the rerank column of `imret experiment`): each plan's
// full-ranking metrics, its mAP change against no re-ranking, and its search
// time per query on an exact index.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/eval/metrics.hpp"
#include "imret/eval/relevance.hpp"
#include "imret/search/index.hpp"

namespace imret::pipeline {

struct RerankRow {
  std::string spec;  // "none": the plain ranking
  eval::Summary summary;
  double map_change = 0;            // mAP minus the plain ranking's
  double search_ms_per_query = 0;   // exact search of the shortlist + re-ranking, top 10
  double database_seconds = 0;      // once per database: augmentation, neighbour graphs
};

// The plain ranking ("none", whose metrics the caller has evaluated:
// `plain`) first, then each spec (rerank::Plan syntax) with shortlists of
// `depth`. Queries Q x D and database N x D as for eval::evaluate_retrieval.
// UsageError for a bad spec before any work.
std::vector<RerankRow> compare_rerankings(const at::Tensor& queries, const at::Tensor& database,
                                          search::Metric metric, const eval::Relevance& relevance,
                                          const eval::MetricOptions& options, const eval::Summary& plain,
                                          const std::vector<std::string>& specs, int64_t depth,
                                          c10::Device device = c10::kCPU);

// [{"rerank", "mAP", "mAP@R", "P@1", "mAP change", "search ms/query", "database s", "retrieval": summary}].
nlohmann::json rerank_json(const std::vector<RerankRow>& rows);
// The rows as an aligned table (terminal) or GitHub markdown: rerank, mAP,
// mAP@R, P@1, mAP change (signed: +0.021), search ms/query, database s.
std::string rerank_table(const std::vector<RerankRow>& rows);
std::string rerank_markdown(const std::vector<RerankRow>& rows);

}  // namespace imret::pipeline
