// Graded metrics of evaluate_query: nDCG@K against scikit-learn's ndcg_score
// (ties averaged) and graded AP against a NumPy implementation of its
// definition (tests/unit/eval/graded_reference.py), hand-made cases, graded
// AP = AP on binary gains without ties, and the graded means and outputs.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "imret/core/error.hpp"
#include "imret/eval/metrics.hpp"
#include "support/reference_files.hpp"

using imret::eval::evaluate_query;
using imret::eval::MetricOptions;
using imret::eval::MetricsAccumulator;
using imret::eval::QueryMetrics;

namespace {

MetricOptions graded_options(std::vector<int> ndcg_ks, bool graded_ap = true) {
  MetricOptions options;
  options.ndcg_ks = std::move(ndcg_ks);
  options.graded_ap = graded_ap;
  return options;
}

// Relevance from gains: < 0 excluded, >= 0.5 relevant.
std::vector<int8_t> grades_of(const std::vector<float>& gains) {
  std::vector<int8_t> grades;
  for (float g : gains) grades.push_back(g < 0 ? -1 : (g >= 0.5f ? 1 : 0));
  return grades;
}

QueryMetrics run_graded(const std::vector<float>& scores, const std::vector<float>& gains,
                        const MetricOptions& options) {
  const auto grades = grades_of(gains);
  return evaluate_query(scores.data(), grades.data(), static_cast<int64_t>(scores.size()), options, gains.data());
}

double discount(int rank) { return 1.0 / std::log2(rank + 2.0); }  // rank 0-based

// Rows of whitespace-separated numbers ("nan" included).
std::vector<std::vector<double>> read_rows(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::vector<double>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<double> row;
    std::string field;
    while (fields >> field) row.push_back(field == "nan" ? std::nan("") : std::stod(field));
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

TEST(Ndcg, SklearnDocExample) {
  // sklearn's docstring: gains [10, 0, 0, 1, 5], scores [.1, .2, .3, 4, 70] -> 0.6956940443813076.
  const std::vector<float> scores = {0.1f, 0.2f, 0.3f, 4.0f, 70.0f};
  const std::vector<float> gains = {10, 0, 0, 1, 5};
  const auto m = run_graded(scores, gains, graded_options({5, 1}));
  ASSERT_EQ(m.ndcg_at_k.size(), 2u);
  const double dcg = 5 + 1 * discount(1) + 10 * discount(4);
  const double ideal = 10 + 5 * discount(1) + 1 * discount(2);
  EXPECT_NEAR(m.ndcg_at_k[0], dcg / ideal, 1e-12);
  EXPECT_NEAR(m.ndcg_at_k[0], 0.6956940443813076, 1e-12);
  EXPECT_NEAR(m.ndcg_at_k[1], 5.0 / 10.0, 1e-12);
  EXPECT_NEAR(m.total_gain, 16.0, 1e-12);
  // Ties: scores [1, 0, 0, 0, 1] at k=1 -> mean gain of the tied top (10 + 5) / 2 over 10 = 0.75 (sklearn).
  const auto tied = run_graded({1, 0, 0, 0, 1}, gains, graded_options({1}));
  EXPECT_NEAR(tied.ndcg_at_k[0], 0.75, 1e-12);
}

TEST(Ndcg, TieGroupAcrossTheCutOffUsesTheWholeGroupsMeanGain) {
  // Three items tied first, one relevant: its mean gain 1/3 on ranks 0 and 1
  // (sklearn: 0.3333333333333333); the ideal puts both relevant items there.
  const auto m = run_graded({1, 1, 1, 0}, {1, 0, 0, 1}, graded_options({2, 4}));
  EXPECT_NEAR(m.ndcg_at_k[0], 1.0 / 3.0, 1e-12);
  const double dcg = (discount(0) + discount(1) + discount(2)) / 3 + discount(3);
  EXPECT_NEAR(m.ndcg_at_k[1], dcg / (discount(0) + discount(1)), 1e-12);
  // K beyond the list: the whole list.
  EXPECT_NEAR(run_graded({1, 1, 1, 0}, {1, 0, 0, 1}, graded_options({100})).ndcg_at_k[0], m.ndcg_at_k[1], 1e-15);
}

TEST(Ndcg, ExcludedItemsAreRemovedFirst) {
  // The excluded item (best score, large gain) is not ranked and not in the ideal.
  const auto m = run_graded({0.9f, 0.8f, 0.7f}, {-1, 0, 0.5f}, graded_options({1, 2}));
  EXPECT_NEAR(m.ndcg_at_k[0], 0.0, 1e-12);
  EXPECT_NEAR(m.ndcg_at_k[1], discount(1) / discount(0), 1e-12);
  EXPECT_NEAR(m.total_gain, 0.5, 1e-12);
}

TEST(GradedAveragePrecision, HandComputed) {
  // Ranked gains 0.5, 1, 0, 0.25. Inner sums sum_{m<=n} min(g_m, g_n): rank 1: 0.5;
  // rank 2: 0.5 + 1 = 1.5; rank 3: 0 (gain 0); rank 4: 0.25 + 0.25 + 0 + 0.25 = 0.75. Total gain 1.75.
  const auto m = run_graded({0.9f, 0.8f, 0.7f, 0.6f}, {0.5f, 1, 0, 0.25f}, graded_options({}, true));
  EXPECT_NEAR(m.graded_average_precision, (0.5 / 1 + 1.5 / 2 + 0.75 / 4) / 1.75, 1e-12);
  // The ideal ranking (descending gains) gives 1, whatever the gains.
  EXPECT_NEAR(run_graded({0.9f, 0.8f, 0.7f}, {1, 0.5f, 0.25f}, graded_options({}, true)).graded_average_precision, 1.0,
              1e-12);
  EXPECT_NEAR(run_graded({0.9f, 0.8f}, {0.5f, 0}, graded_options({}, true)).graded_average_precision, 1.0, 1e-12);
  // Tied scores rank by database order, like the rank-based metrics.
  EXPECT_NEAR(run_graded({0.5f, 0.5f}, {0, 1}, graded_options({}, true)).graded_average_precision, 0.5, 1e-12);
}

TEST(GradedAveragePrecision, EqualsAveragePrecisionOnBinaryGainsWithoutTies) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> uniform(-1, 1);
  for (int trial = 0; trial < 100; ++trial) {
    const int n = 2 + static_cast<int>(rng() % 300);
    std::vector<float> scores(n), gains(n);
    for (int i = 0; i < n; ++i) {
      scores[i] = uniform(rng) + 3.0f * static_cast<float>(i) * 1e-3f;  // distinct
      const uint32_t r = rng() % 10;
      gains[i] = r < 3 ? 1.0f : (r < 9 ? 0.0f : -1.0f);
    }
    gains[0] = 1;
    const auto grades = grades_of(gains);
    const auto options = graded_options({10}, true);
    const auto with_gains = evaluate_query(scores.data(), grades.data(), n, options, gains.data());
    const auto from_grades = evaluate_query(scores.data(), grades.data(), n, options);  // gains = 0/1 relevance
    ASSERT_NEAR(with_gains.graded_average_precision, with_gains.average_precision, 1e-12) << trial;
    ASSERT_EQ(with_gains.graded_average_precision, from_grades.graded_average_precision) << trial;
    ASSERT_EQ(with_gains.ndcg_at_k, from_grades.ndcg_at_k) << trial;
    ASSERT_EQ(with_gains.total_gain, static_cast<double>(with_gains.num_relevant)) << trial;
  }
}

TEST(GradedMetrics, MatchSklearnAndNumpyReferenceWithTiesAndExclusions) {
  std::mt19937 rng(2024);
  std::uniform_real_distribution<float> uniform(-1, 1);
  const int64_t rows = 60;
  const int64_t n = 120;
  const std::vector<int> ks = {1, 3, 10, 50, 200};
  at::Tensor scores = at::zeros({rows, n}), gains = at::zeros({rows, n});
  for (int64_t q = 0; q < rows; ++q) {
    const int style = static_cast<int>(q % 4);
    for (int64_t i = 0; i < n; ++i) {
      const float u = uniform(rng);
      float score = u;
      if (style == 0) score = std::round(u * 4) / 4;    // heavy ties
      if (style == 1) score = std::round(u * 30) / 30;  // some ties
      if (style == 3 && i % 7 == 0) score = -0.0f;      // -0 and +0 tied
      if (style == 3 && i % 7 == 1) score = 0.0f;
      const uint32_t r = rng() % 12;
      // Gains as the weighted relevance makes them (ratios of small counts), 0 and excluded.
      float gain = r < 5 ? 0.0f : static_cast<float>(r % 4 + 1) / static_cast<float>(r % 3 + 4);
      if (r == 11) gain = -1.0f;
      scores[q][i] = score;
      gains[q][i] = gain;
    }
  }
  for (int64_t i = 0; i < n; ++i) gains[rows - 1][i] = i == 3 ? 1.0f : 0.0f;  // one relevant item
  for (int64_t i = 0; i < n; ++i) gains[rows - 2][i] = 0.0f;                  // nothing relevant
  const auto dir = imret::testing::reference_folder("eval", "graded");
  imret::testing::save(dir / "scores.npy", scores);
  imret::testing::save(dir / "gains.npy", gains);
  std::vector<float> k_values(ks.begin(), ks.end());
  imret::testing::save(dir / "ks.npy", at::tensor(k_values).reshape({1, -1}));
  ASSERT_EQ(imret::testing::run_reference("tests/unit/eval/graded_reference.py", dir.string()), 0);
  const auto ndcg = read_rows(dir / "ndcg.txt");
  const auto graded_ap = read_rows(dir / "graded_ap.txt");
  ASSERT_EQ(ndcg.size(), static_cast<size_t>(rows));
  ASSERT_EQ(graded_ap.size(), static_cast<size_t>(rows));
  const auto options = graded_options(ks, true);
  for (int64_t q = 0; q < rows; ++q) {
    const at::Tensor s = scores[q].contiguous(), g = gains[q].contiguous();
    const std::vector<float> row_scores(s.data_ptr<float>(), s.data_ptr<float>() + n);
    const std::vector<float> row_gains(g.data_ptr<float>(), g.data_ptr<float>() + n);
    const auto m = run_graded(row_scores, row_gains, options);
    if (q == rows - 2) {
      EXPECT_EQ(m.total_gain, 0.0);
      EXPECT_EQ(m.ndcg_at_k, std::vector<double>(ks.size(), 0.0));
      EXPECT_TRUE(std::isnan(graded_ap[q][0]));
      continue;
    }
    ASSERT_EQ(ndcg[q].size(), ks.size());
    for (size_t j = 0; j < ks.size(); ++j)
      EXPECT_NEAR(m.ndcg_at_k[j], ndcg[q][j], 1e-12) << "row " << q << " k " << ks[j];
    EXPECT_NEAR(m.graded_average_precision, graded_ap[q][0], 1e-12) << "row " << q;
  }
}

TEST(GradedMetrics, OnlyWhenAsked) {
  const std::vector<float> scores = {0.9f, 0.1f};
  const std::vector<int8_t> grades = {1, 0};
  const auto m = evaluate_query(scores.data(), grades.data(), 2, MetricOptions{});
  EXPECT_TRUE(m.ndcg_at_k.empty());
  EXPECT_EQ(m.graded_average_precision, 0.0);
  EXPECT_EQ(m.total_gain, 0.0);
  MetricsAccumulator accumulator(MetricOptions{});
  accumulator.add(m);
  const auto s = accumulator.summary();
  EXPECT_FALSE(s.graded());
  const auto j = s.to_json();
  EXPECT_FALSE(j.contains("nDCG@K"));
  EXPECT_FALSE(j.contains("graded mAP"));
  EXPECT_FALSE(j.contains("queries_without_gain"));
  EXPECT_EQ(s.to_table().find("nDCG"), std::string::npos);
  // nDCG alone: no graded AP.
  const auto ndcg_only = evaluate_query(scores.data(), grades.data(), 2, graded_options({1}, false));
  EXPECT_EQ(ndcg_only.ndcg_at_k, std::vector<double>{1.0});
  EXPECT_EQ(ndcg_only.graded_average_precision, 0.0);
}

TEST(GradedMetrics, MeansSkipQueriesWithoutGainAndAppearInOutputs) {
  const auto options = graded_options({1, 2}, true);
  MetricsAccumulator accumulator(options);
  // Query a: gains (0.25, 1) ranked in that order; query b: every gain 0 (left
  // out of every mean); query c: gain 0.4 only (counted in the graded means, but
  // not relevant for the binary metrics at threshold 0.5).
  accumulator.add(run_graded({0.9f, 0.8f}, {0.25f, 1}, options));
  accumulator.add(run_graded({0.9f, 0.8f}, {0, 0}, options));
  const auto c = run_graded({0.9f, 0.8f}, {0.4f, 0}, options);
  EXPECT_EQ(c.num_relevant, 0);
  EXPECT_NEAR(c.ndcg_at_k[0], 1.0, 1e-12);
  accumulator.add(c);
  const auto s = accumulator.summary();
  EXPECT_EQ(s.queries, 3);
  EXPECT_EQ(s.queries_without_relevant, 2);
  EXPECT_EQ(s.queries_without_gain, 1);
  const double a_ndcg1 = 0.25 / 1.0;
  EXPECT_NEAR(s.ndcg_at_k[0], (a_ndcg1 + 1.0) / 2, 1e-12);
  const double a_gap = (0.25 / 1 + (0.25 + 1.0) / 2) / 1.25;
  EXPECT_NEAR(s.graded_map, (a_gap + 1.0) / 2, 1e-12);
  const auto j = s.to_json();
  EXPECT_NEAR(j["nDCG@K"]["1"].get<double>(), s.ndcg_at_k[0], 1e-15);
  EXPECT_NEAR(j["graded mAP"].get<double>(), s.graded_map, 1e-15);
  EXPECT_EQ(j["queries_without_gain"].get<int64_t>(), 1);
  const std::string table = s.to_table();
  EXPECT_NE(table.find("nDCG@2"), std::string::npos);
  EXPECT_NE(table.find("graded mAP"), std::string::npos);
  // Metrics computed without the graded options do not fit.
  EXPECT_THROW(accumulator.add(run_graded({0.9f}, {1}, graded_options({1}, true))), imret::Error);
}

TEST(GradedMetrics, Errors) {
  const auto options = graded_options({1}, true);
  EXPECT_THROW(run_graded({0.9f, 0.8f}, {0.5f, std::nanf("")}, options), imret::Error);
  // A negative gain on an item the grades do not exclude.
  const std::vector<float> scores = {0.9f, 0.8f}, gains = {0.5f, -0.5f};
  const std::vector<int8_t> grades = {1, 0};
  EXPECT_THROW(evaluate_query(scores.data(), grades.data(), 2, options, gains.data()), imret::Error);
  EXPECT_THROW(run_graded({0.9f}, {1}, graded_options({0}, false)), imret::Error);
  EXPECT_THROW(MetricsAccumulator(graded_options({-1}, false)), imret::Error);
  // An excluded item's gain is not looked at.
  const std::vector<int8_t> excluded = {1, -1};
  const std::vector<float> nan_gain = {1.0f, std::nanf("")};
  EXPECT_NO_THROW(evaluate_query(scores.data(), excluded.data(), 2, options, nan_gain.data()));
}
