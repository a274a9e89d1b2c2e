#include "imret/eval/evaluate.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <functional>
#include <iomanip>
#include <optional>
#include <sstream>
#include <string>

#include "imret/core/error.hpp"
#include "imret/core/progress.hpp"
#include "imret/eval/text_table.hpp"
#include "imret/search/similarity.hpp"

namespace imret::eval {

namespace {

constexpr int64_t kQueriesPerBlock = 256;

void check_embeddings(const at::Tensor& queries, const at::Tensor& database) {
  search::check_embeddings(queries, "evaluate: queries");
  search::check_embeddings(database, "evaluate: database");
  if (queries.size(1) != database.size(1))
    throw Error("evaluate: queries have " + std::to_string(queries.size(1)) + " dimensions, the database " +
                std::to_string(database.size(1)));
  if (database.size(0) == 0) throw Error("evaluate: the database is empty");
}

void check_relevance(const Relevance* relevance, const at::Tensor& queries, const at::Tensor& database) {
  if (relevance == nullptr) throw Error("evaluate: a relevance is null");
  if (relevance->num_queries() != queries.size(0) || relevance->database_size() != database.size(0))
    throw Error("evaluate: relevance is for " + std::to_string(relevance->num_queries()) + " queries x " +
                std::to_string(relevance->database_size()) + " items, the embeddings are " +
                std::to_string(queries.size(0)) + " queries x " + std::to_string(database.size(0)) + " items");
}

}  // namespace

void evaluate_score_rows(const float* scores, int64_t rows, int64_t first_query, const Relevance& relevance,
                         const MetricOptions& options, QueryMetrics* out) {
  const int64_t n = relevance.database_size();
  const bool graded = options.graded();
  at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
    thread_local std::vector<int8_t> grades;
    thread_local std::vector<float> gains;
    grades.resize(static_cast<size_t>(n));
    if (graded) gains.resize(static_cast<size_t>(n));
    for (int64_t row = begin; row < end; ++row) {
      relevance.grade_row(first_query + row, grades.data());
      if (graded) relevance.gain_row(first_query + row, gains.data());
      out[row] = evaluate_query(scores + row * n, grades.data(), n, options, graded ? gains.data() : nullptr);
    }
  });
}

std::vector<RetrievalEvaluation> evaluate_retrieval_modes(const at::Tensor& queries, const at::Tensor& database,
                                                          search::Metric metric,
                                                          const std::vector<const Relevance*>& relevances,
                                                          const MetricOptions& options, bool keep_per_query,
                                                          c10::Device device, const ScoreBlock& score_block) {
  check_embeddings(queries, database);
  if (relevances.empty()) throw Error("evaluate: no relevance to grade with");
  for (const Relevance* relevance : relevances) check_relevance(relevance, queries, database);
  const int64_t num_queries = queries.size(0);
  const search::PreparedDatabase prepared =
      score_block ? search::PreparedDatabase{} : search::prepare_database(database, metric, device);
  std::vector<MetricsAccumulator> accumulators(relevances.size(), MetricsAccumulator(options));
  std::vector<RetrievalEvaluation> results(relevances.size());
  if (keep_per_query)
    for (auto& result : results) result.per_query.reserve(static_cast<size_t>(num_queries));
  std::vector<QueryMetrics> block_metrics;
  Progress progress("evaluate", num_queries, "queries");
  for (int64_t q0 = 0; q0 < num_queries; q0 += kQueriesPerBlock) {
    const int64_t rows = std::min(kQueriesPerBlock, num_queries - q0);
    const at::Tensor block = queries.narrow(0, q0, rows);
    const at::Tensor scores = score_block ? score_block(block).to(torch::kCPU, torch::kFloat32).contiguous()
                                          : search::similarity_block(block, prepared).to(torch::kCPU).contiguous();
    if (scores.size(0) != rows || scores.size(1) != database.size(0))
      throw Error("evaluate: a block of scores has the wrong shape");
    // Every relevance grades the same block of scores.
    for (size_t r = 0; r < relevances.size(); ++r) {
      block_metrics.assign(static_cast<size_t>(rows), QueryMetrics{});
      evaluate_score_rows(scores.data_ptr<float>(), rows, q0, *relevances[r], options, block_metrics.data());
      for (auto& m : block_metrics) {
        accumulators[r].add(m);
        if (keep_per_query) results[r].per_query.push_back(std::move(m));
      }
    }
    progress.advance(rows);
  }
  progress.finish();
  for (size_t r = 0; r < relevances.size(); ++r) results[r].summary = accumulators[r].summary();
  return results;
}

RetrievalEvaluation evaluate_retrieval(const at::Tensor& queries, const at::Tensor& database, search::Metric metric,
                                       const Relevance& relevance, const MetricOptions& options, bool keep_per_query,
                                       c10::Device device, const ScoreBlock& score_block) {
  auto results =
      evaluate_retrieval_modes(queries, database, metric, {&relevance}, options, keep_per_query, device, score_block);
  return std::move(results.front());
}

// ---------------------------------------------------------------------------
// Tables of several modes.

namespace {

using Modes = std::vector<std::pair<std::string, Summary>>;
using Cells = TextCells;  // rows of cells; row 0 is the header

std::string format_value(double value) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(4) << value;
  return out.str();
}

// The cut-offs any mode has, in order of first appearance.
std::vector<int> union_of(const Modes& modes, const std::function<const std::vector<int>&(const Summary&)>& ks_of) {
  std::vector<int> ks;
  for (const auto& mode : modes)
    for (int k : ks_of(mode.second))
      if (std::find(ks.begin(), ks.end(), k) == ks.end()) ks.push_back(k);
  return ks;
}

// The value of a per-K metric at cut-off k, or nothing when the mode lacks k.
std::optional<double> at_k(const std::vector<int>& ks, const std::vector<double>& values, int k) {
  const auto it = std::find(ks.begin(), ks.end(), k);
  if (it == ks.end()) return std::nullopt;
  return values.at(static_cast<size_t>(it - ks.begin()));
}

// One row: the metric's name, then each mode's cell ("-" when missing).
void add_row(Cells& cells, const Modes& modes, const std::string& name,
             const std::function<std::optional<std::string>(const Summary&)>& cell_of) {
  std::vector<std::string> row = {name};
  for (const auto& mode : modes) row.push_back(cell_of(mode.second).value_or("-"));
  cells.push_back(std::move(row));
}

void add_value_row(Cells& cells, const Modes& modes, const std::string& name,
                   const std::function<std::optional<double>(const Summary&)>& value_of) {
  add_row(cells, modes, name, [&](const Summary& s) -> std::optional<std::string> {
    const auto value = value_of(s);
    if (!value) return std::nullopt;
    return format_value(*value);
  });
}

Cells modes_cells(const Modes& modes) {
  Cells cells;
  std::vector<std::string> header = {"metric"};
  for (const auto& mode : modes) header.push_back(mode.first);
  cells.push_back(std::move(header));
  add_row(cells, modes, "queries", [](const Summary& s) { return std::to_string(s.queries); });
  add_row(cells, modes, "queries without relevant",
          [](const Summary& s) { return std::to_string(s.queries_without_relevant); });
  add_value_row(cells, modes, "mAP", [](const Summary& s) { return s.mean_average_precision; });
  add_value_row(cells, modes, "mAP@R", [](const Summary& s) { return s.map_at_r; });
  const auto ks = union_of(modes, [](const Summary& s) -> const std::vector<int>& { return s.ks; });
  for (int k : ks)
    add_value_row(cells, modes, "P@" + std::to_string(k),
                  [k](const Summary& s) { return at_k(s.ks, s.precision_at_k, k); });
  for (int k : ks)
    add_value_row(cells, modes, "R@" + std::to_string(k),
                  [k](const Summary& s) { return at_k(s.ks, s.recall_at_k, k); });
  for (int k : union_of(modes, [](const Summary& s) -> const std::vector<int>& { return s.ndcg_ks; }))
    add_value_row(cells, modes, "nDCG@" + std::to_string(k),
                  [k](const Summary& s) { return at_k(s.ndcg_ks, s.ndcg_at_k, k); });
  const auto any = [&](const std::function<bool(const Summary&)>& has) {
    return std::any_of(modes.begin(), modes.end(), [&](const auto& mode) { return has(mode.second); });
  };
  if (any([](const Summary& s) { return s.graded_ap; }))
    add_value_row(cells, modes, "graded mAP", [](const Summary& s) -> std::optional<double> {
      if (!s.graded_ap) return std::nullopt;
      return s.graded_map;
    });
  if (any([](const Summary& s) { return s.graded(); }))
    add_row(cells, modes, "queries without gain", [](const Summary& s) -> std::optional<std::string> {
      if (!s.graded()) return std::nullopt;
      return std::to_string(s.queries_without_gain);
    });
  return cells;
}

}  // namespace

std::string modes_table(const Modes& modes) { return aligned_table(modes_cells(modes)); }

std::string modes_markdown(const Modes& modes) { return markdown_table(modes_cells(modes)); }

}  // namespace imret::eval
