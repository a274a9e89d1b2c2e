#include "imret/eval/evaluate.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <string>

#include "imret/core/error.hpp"
#include "imret/core/progress.hpp"
#include "imret/search/similarity.hpp"

namespace imret::eval {

namespace {

constexpr int64_t kQueriesPerBlock = 256;

void check_shapes(const at::Tensor& queries, const at::Tensor& database, const Relevance& relevance) {
  search::check_embeddings(queries, "evaluate: queries");
  search::check_embeddings(database, "evaluate: database");
  if (queries.size(1) != database.size(1))
    throw Error("evaluate: queries have " + std::to_string(queries.size(1)) + " dimensions, the database " +
                std::to_string(database.size(1)));
  if (database.size(0) == 0) throw Error("evaluate: the database is empty");
  if (relevance.num_queries() != queries.size(0) || relevance.database_size() != database.size(0))
    throw Error("evaluate: relevance is for " + std::to_string(relevance.num_queries()) + " queries x " +
                std::to_string(relevance.database_size()) + " items, the embeddings are " +
                std::to_string(queries.size(0)) + " queries x " + std::to_string(database.size(0)) + " items");
}

}  // namespace

void evaluate_score_rows(const float* scores, int64_t rows, int64_t first_query, const Relevance& relevance,
                         const MetricOptions& options, QueryMetrics* out) {
  const int64_t n = relevance.database_size();
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<int8_t> grades;
    grades.resize(static_cast<size_t>(n));
    for (int64_t row = begin; row < end; ++row) {
      relevance.grade_row(first_query + row, grades.data());
      out[row] = evaluate_query(scores + row * n, grades.data(), n, options);
    }
  });
}

RetrievalEvaluation evaluate_retrieval(const at::Tensor& queries, const at::Tensor& database, search::Metric metric,
                                       const Relevance& relevance, const MetricOptions& options, bool keep_per_query,
                                       c10::Device device) {
  check_shapes(queries, database, relevance);
  const int64_t num_queries = queries.size(0);
  const search::PreparedDatabase prepared = search::prepare_database(database, metric, device);
  MetricsAccumulator accumulator(options);
  RetrievalEvaluation result;
  if (keep_per_query) result.per_query.reserve(static_cast<size_t>(num_queries));
  std::vector<QueryMetrics> block_metrics;
  Progress progress("evaluate", num_queries, "queries");
  for (int64_t q0 = 0; q0 < num_queries; q0 += kQueriesPerBlock) {
    const int64_t rows = std::min(kQueriesPerBlock, num_queries - q0);
    const at::Tensor scores =
        search::similarity_block(queries.narrow(0, q0, rows), prepared).to(torch::kCPU).contiguous();
    block_metrics.assign(static_cast<size_t>(rows), QueryMetrics{});
    evaluate_score_rows(scores.data_ptr<float>(), rows, q0, relevance, options, block_metrics.data());
    for (auto& m : block_metrics) {
      accumulator.add(m);
      if (keep_per_query) result.per_query.push_back(std::move(m));
    }
    progress.advance(rows);
  }
  progress.finish();
  result.summary = accumulator.summary();
  return result;
}

}  // namespace imret::eval
