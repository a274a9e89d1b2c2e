#include "imret/pipeline/rerank_comparison.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "imret/eval/evaluate.hpp"
#include "imret/eval/text_table.hpp"
#include "imret/rerank/plan.hpp"
#include "imret/search/exact_index.hpp"

namespace imret::pipeline {

namespace {

constexpr int64_t kTimedK = 10;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double precision_at_1(const eval::Summary& s) {
  const auto it = std::find(s.ks.begin(), s.ks.end(), 1);
  return it == s.ks.end() ? -1 : s.precision_at_k[static_cast<size_t>(it - s.ks.begin())];
}

std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

eval::TextCells cells(const std::vector<RerankRow>& rows) {
  eval::TextCells out = {
      {"rerank", "mAP", "mAP@R", "P@1", "mAP change", "search ms/query", "database s"}};
  for (const RerankRow& row : rows) {
    const double p1 = precision_at_1(row.summary);
    out.push_back({row.spec, fixed(row.summary.mean_average_precision, 4), fixed(row.summary.map_at_r, 4),
                   p1 < 0 ? "-" : fixed(p1, 4), eval::signed_change(row.map_change), fixed(row.search_ms_per_query, 3),
                   fixed(row.database_seconds, 1)});
  }
  return out;
}

}  // namespace

std::vector<RerankRow> compare_rerankings(const at::Tensor& queries, const at::Tensor& database,
                                          search::Metric metric, const eval::Relevance& relevance,
                                          const eval::MetricOptions& options, const eval::Summary& plain,
                                          const std::vector<std::string>& specs, int64_t depth,
                                          c10::Device device) {
  std::vector<rerank::Plan> plans;
  for (const std::string& spec : specs) plans.emplace_back(spec, depth);  // every spec checked first
  std::vector<RerankRow> rows(1);
  rows[0].spec = "none";
  rows[0].summary = plain;
  {
    search::ExactIndex index(metric);
    index.add(database);
    const auto start = std::chrono::steady_clock::now();
    (void)index.search(queries, kTimedK);
    rows[0].search_ms_per_query = 1000.0 * seconds_since(start) / static_cast<double>(std::max<int64_t>(queries.size(0), 1));
  }
  for (const rerank::Plan& plan : plans) {
    RerankRow row;
    row.spec = plan.spec();
    spdlog::info("re-ranking: {} (depth {})", row.spec, depth);
    auto start = std::chrono::steady_clock::now();
    const rerank::FullRanking ranking(plan, database, metric, device);
    row.database_seconds = seconds_since(start);
    row.summary = eval::evaluate_retrieval(queries, database, metric, relevance, options, false, device,
                                           [&](const at::Tensor& block) { return ranking.scores(block); })
                      .summary;
    // What a search costs: the top 10 through the plan on an exact index.
    start = std::chrono::steady_clock::now();
    (void)plan.search(ranking.index(), queries, kTimedK);
    row.search_ms_per_query = 1000.0 * seconds_since(start) / static_cast<double>(std::max<int64_t>(queries.size(0), 1));
    rows.push_back(std::move(row));
  }
  for (RerankRow& row : rows) row.map_change = row.summary.mean_average_precision - rows.front().summary.mean_average_precision;
  return rows;
}

nlohmann::json rerank_json(const std::vector<RerankRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const RerankRow& row : rows) {
    const double p1 = precision_at_1(row.summary);
    out.push_back({{"rerank", row.spec},
                   {"mAP", row.summary.mean_average_precision},
                   {"mAP@R", row.summary.map_at_r},
                   {"P@1", p1 < 0 ? nlohmann::json(nullptr) : nlohmann::json(p1)},
                   {"mAP change", row.map_change},
                   {"search ms/query", row.search_ms_per_query},
                   {"database s", row.database_seconds},
                   {"retrieval", row.summary.to_json()}});
  }
  return out;
}

std::string rerank_table(const std::vector<RerankRow>& rows) { return eval::aligned_table(cells(rows)); }

std::string rerank_markdown(const std::vector<RerankRow>& rows) {
  eval::TextCells table = cells(rows);
  for (size_t r = 1; r < table.size(); ++r) table[r][0] = "`" + table[r][0] + "`";
  return eval::markdown_table(table);
}

}  // namespace imret::pipeline
