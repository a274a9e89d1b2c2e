// Per-query metrics on hand-made rankings (values computed by hand, AP values
// also checked with sklearn 1.2.1), a randomized comparison against a naive
// reference, and the accumulator.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <random>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/eval/metrics.hpp"

using imret::eval::evaluate_query;
using imret::eval::MetricOptions;
using imret::eval::MetricsAccumulator;
using imret::eval::QueryMetrics;

namespace {

QueryMetrics run(const std::vector<float>& scores, const std::vector<int8_t>& relevance, MetricOptions options = {}) {
  return evaluate_query(scores.data(), relevance.data(), static_cast<int64_t>(scores.size()), options);
}

MetricOptions with_ks(std::vector<int> ks, int pr_points = 101) {
  MetricOptions options;
  options.ks = std::move(ks);
  options.pr_points = pr_points;
  return options;
}

}  // namespace

TEST(AveragePrecision, SklearnDocExample) {
  // sklearn's docstring: average_precision_score([0,0,1,1], [0.1,0.4,0.35,0.8]) = 0.8333
  const auto m = run({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1});
  EXPECT_EQ(m.num_relevant, 2);
  EXPECT_NEAR(m.average_precision, (1.0 + 2.0 / 3.0) / 2.0, 1e-12);
}

TEST(AveragePrecision, TiesFormOneOperatingPoint) {
  // Three items tied at 0.5: one threshold with tp=2 of 3 -> AP = 2/3 (sklearn).
  EXPECT_NEAR(run({0.5f, 0.5f, 0.5f, 0.1f}, {1, 0, 1, 0}).average_precision, 2.0 / 3.0, 1e-12);
  // Reordering tied items changes nothing for AP.
  EXPECT_NEAR(run({0.5f, 0.5f, 0.5f, 0.1f}, {0, 1, 1, 0}).average_precision, 2.0 / 3.0, 1e-12);
  // Thresholds 0.9 (tp 0), 0.7 (tp 2 of 4), 0.3 (tp 3 of 6), 0.1 (tp 4 of 7):
  // AP = (2*1/2 + 1*1/2 + 1*4/7) / 4 = 29/56.
  EXPECT_NEAR(run({0.9f, 0.7f, 0.7f, 0.7f, 0.3f, 0.3f, 0.1f}, {0, 1, 0, 1, 1, 0, 1}).average_precision, 29.0 / 56.0,
              1e-12);
  // All tied and all relevant -> 1.
  EXPECT_NEAR(run({0.3f, 0.3f}, {1, 1}).average_precision, 1.0, 1e-12);
}

TEST(AveragePrecision, NegativeAndPositiveZeroAreTied) {
  const auto m = run({0.0f, -0.0f}, {0, 1});
  EXPECT_NEAR(m.average_precision, 0.5, 1e-12);  // sklearn: 0.5
  EXPECT_NEAR(m.reciprocal_rank, 0.5, 1e-12);    // tie broken by index: relevant item is second
}

TEST(RankMetrics, HandComputedWithTies) {
  // Database order breaks ties: ranking is idx 0(0) 1(1) 2(0) 3(1) 4(1) 5(0) 6(1), R = 4.
  const auto m = run({0.9f, 0.7f, 0.7f, 0.7f, 0.3f, 0.3f, 0.1f}, {0, 1, 0, 1, 1, 0, 1}, with_ks({1, 3, 5}));
  EXPECT_EQ(m.num_relevant, 4);
  EXPECT_NEAR(m.map_at_r, (1.0 / 2 + 2.0 / 4) / 4, 1e-12);  // relevant at ranks 2 and 4 within top R
  EXPECT_NEAR(m.r_precision, 2.0 / 4, 1e-12);
  EXPECT_NEAR(m.reciprocal_rank, 1.0 / 2, 1e-12);
  ASSERT_EQ(m.precision_at_k.size(), 3u);
  EXPECT_NEAR(m.precision_at_k[0], 0.0, 1e-12);
  EXPECT_NEAR(m.precision_at_k[1], 1.0 / 3, 1e-12);
  EXPECT_NEAR(m.precision_at_k[2], 3.0 / 5, 1e-12);
  EXPECT_NEAR(m.recall_at_k[0], 0.0, 1e-12);
  EXPECT_NEAR(m.recall_at_k[1], 1.0 / 4, 1e-12);
  EXPECT_NEAR(m.recall_at_k[2], 3.0 / 4, 1e-12);
  EXPECT_EQ(m.hit_rate_at_k, (std::vector<double>{0, 1, 1}));
}

TEST(RankMetrics, TieOrderFollowsDatabaseIndex) {
  // Same scores, relevant item first or second in database order.
  auto first = run({0.5f, 0.5f, 0.5f}, {1, 0, 0}, with_ks({1}));
  auto last = run({0.5f, 0.5f, 0.5f}, {0, 0, 1}, with_ks({1}));
  EXPECT_NEAR(first.reciprocal_rank, 1.0, 1e-12);
  EXPECT_NEAR(first.precision_at_k[0], 1.0, 1e-12);
  EXPECT_NEAR(first.map_at_r, 1.0, 1e-12);
  EXPECT_NEAR(last.reciprocal_rank, 1.0 / 3, 1e-12);
  EXPECT_NEAR(last.precision_at_k[0], 0.0, 1e-12);
  EXPECT_NEAR(last.map_at_r, 0.0, 1e-12);
  EXPECT_NEAR(first.average_precision, last.average_precision, 1e-15);  // AP ignores tie order
}

TEST(RankMetrics, PrecisionAtKBeyondTheListCountsMissingAsNotRelevant) {
  const auto m = run({0.3f, 0.2f, 0.1f}, {1, 0, 1}, with_ks({10}));
  EXPECT_NEAR(m.precision_at_k[0], 2.0 / 10, 1e-12);
  EXPECT_NEAR(m.recall_at_k[0], 1.0, 1e-12);
  EXPECT_NEAR(m.hit_rate_at_k[0], 1.0, 1e-12);
}

TEST(ExcludedItems, AreRemovedBeforeAnything) {
  // Item 0 (the query itself, best score) excluded: ranking is 0.8(0), 0.7(1).
  const auto m = run({0.9f, 0.8f, 0.7f}, {-1, 0, 1}, with_ks({1, 2}));
  EXPECT_EQ(m.num_relevant, 1);
  EXPECT_NEAR(m.average_precision, 0.5, 1e-12);
  EXPECT_NEAR(m.reciprocal_rank, 0.5, 1e-12);
  EXPECT_NEAR(m.precision_at_k[0], 0.0, 1e-12);
  EXPECT_NEAR(m.precision_at_k[1], 0.5, 1e-12);
  // An excluded item's score is not looked at, even NaN.
  const auto n = run({std::nanf(""), 0.8f, 0.7f}, {-1, 0, 1});
  EXPECT_NEAR(n.average_precision, 0.5, 1e-12);
}

TEST(NoRelevantItems, EverythingZeroAndLeftOutOfMeans) {
  const auto m = run({0.9f, 0.1f}, {0, 0}, with_ks({1, 5}, 11));
  EXPECT_EQ(m.num_relevant, 0);
  EXPECT_EQ(m.average_precision, 0.0);  // sklearn 1.2.1 returns -0.0 (with a warning)
  EXPECT_EQ(m.precision_at_k.size(), 2u);
  EXPECT_EQ(m.interpolated_precision.size(), 11u);
  const auto empty = run({}, {}, with_ks({1}));
  EXPECT_EQ(empty.num_relevant, 0);
  const auto all_excluded = run({0.5f}, {-1}, with_ks({1}));
  EXPECT_EQ(all_excluded.num_relevant, 0);
}

TEST(Errors, NaNScoreAndBadOptions) {
  EXPECT_THROW(run({0.5f, std::nanf("")}, {1, 0}), imret::Error);
  EXPECT_THROW(run({0.5f}, {1}, with_ks({0})), imret::Error);
  EXPECT_THROW(run({0.5f}, {1}, with_ks({1}, 1)), imret::Error);
}

TEST(InterpolatedPrecision, HandComputed) {
  // Ranking 0.8(1) 0.4(0) 0.35(1) 0.1(0): points (recall 1/2, precision 1), (1, 2/3).
  const auto m = run({0.1f, 0.4f, 0.35f, 0.8f}, {0, 0, 1, 1}, with_ks({1}, 5));
  ASSERT_EQ(m.interpolated_precision.size(), 5u);
  const std::vector<double> expected = {1, 1, 1, 2.0 / 3, 2.0 / 3};  // recall 0, .25, .5, .75, 1
  for (size_t j = 0; j < 5; ++j) EXPECT_NEAR(m.interpolated_precision[j], expected[j], 1e-12) << j;
}

TEST(InterpolatedPrecision, MonotonicAndEndsAtOverallPrecision) {
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0, 1);
  std::vector<float> scores(500);
  std::vector<int8_t> relevance(500);
  for (size_t i = 0; i < scores.size(); ++i) {
    relevance[i] = (i % 7 == 0) ? 1 : 0;
    scores[i] = std::round((noise(rng) + relevance[i]) * 10) / 10;
  }
  const auto m = run(scores, relevance);
  for (size_t j = 1; j < m.interpolated_precision.size(); ++j)
    EXPECT_LE(m.interpolated_precision[j], m.interpolated_precision[j - 1]);
  // At recall 1 the best point with full recall is the whole list or a shorter prefix.
  EXPECT_GE(m.interpolated_precision.back(), static_cast<double>(m.num_relevant) / scores.size() - 1e-12);
  EXPECT_LE(m.interpolated_precision.front(), 1.0);
}

// ----------------------------------------------------------------------------
// Randomized check of the radix sort and one-pass metrics against a naive
// reference: stable sort by descending score, sklearn's threshold formula.

namespace {

struct Reference {
  double ap = 0, map_at_r = 0, r_precision = 0, rr = 0;
  std::vector<double> p_at_k;
};

Reference naive(const std::vector<float>& scores, const std::vector<int8_t>& rel, const std::vector<int>& ks) {
  std::vector<size_t> order;
  for (size_t i = 0; i < scores.size(); ++i)
    if (rel[i] >= 0) order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  Reference r;
  const auto n = order.size();
  int64_t R = 0;
  for (auto i : order) R += rel[i] > 0;
  int64_t tp = 0, prev_tp = 0;
  for (size_t i = 0; i < n; ++i) {
    tp += rel[order[i]] > 0;
    if (i + 1 == n || scores[order[i + 1]] != scores[order[i]]) {
      r.ap += (static_cast<double>(tp) / R - static_cast<double>(prev_tp) / R) * tp / static_cast<double>(i + 1);
      prev_tp = tp;
    }
  }
  tp = 0;
  for (int64_t i = 0; i < R; ++i)
    if (rel[order[i]] > 0) r.map_at_r += static_cast<double>(++tp) / (i + 1);
  r.map_at_r /= R;
  r.r_precision = static_cast<double>(tp) / R;
  for (size_t i = 0; i < n; ++i)
    if (rel[order[i]] > 0) {
      r.rr = 1.0 / (i + 1);
      break;
    }
  for (int k : ks) {
    int64_t hits = 0;
    for (size_t i = 0; i < std::min<size_t>(k, n); ++i) hits += rel[order[i]] > 0;
    r.p_at_k.push_back(static_cast<double>(hits) / k);
  }
  return r;
}

}  // namespace

TEST(EvaluateQuery, MatchesNaiveReferenceOnRandomRankings) {
  std::mt19937 rng(123);
  const std::vector<int> ks = {1, 3, 10, 50};
  for (int trial = 0; trial < 300; ++trial) {
    const int n = 1 + static_cast<int>(rng() % 400);
    std::vector<float> scores(n);
    std::vector<int8_t> rel(n);
    const int style = trial % 4;
    std::uniform_real_distribution<float> uniform(-1, 1);
    for (int i = 0; i < n; ++i) {
      const float u = uniform(rng);
      switch (style) {
        case 0: scores[i] = std::round(u * 5) / 5; break;               // heavy ties
        case 1: scores[i] = u * 1e6f; break;                            // wide range: every radix pass
        case 2: scores[i] = u; break;                                   // few ties
        default: scores[i] = (i % 5 == 0) ? -std::numeric_limits<float>::infinity() : std::round(u * 50); break;
      }
      const uint32_t r = rng() % 10;
      rel[i] = r < 3 ? 1 : (r < 9 ? 0 : -1);
    }
    if (std::none_of(rel.begin(), rel.end(), [](int8_t g) { return g > 0; })) rel[0] = 1;
    const auto m = run(scores, rel, with_ks(ks));
    const auto ref = naive(scores, rel, ks);
    ASSERT_NEAR(m.average_precision, ref.ap, 1e-12) << "trial " << trial;
    ASSERT_NEAR(m.map_at_r, ref.map_at_r, 1e-12) << "trial " << trial;
    ASSERT_NEAR(m.r_precision, ref.r_precision, 1e-12) << "trial " << trial;
    ASSERT_NEAR(m.reciprocal_rank, ref.rr, 1e-12) << "trial " << trial;
    for (size_t j = 0; j < ks.size(); ++j) ASSERT_NEAR(m.precision_at_k[j], ref.p_at_k[j], 1e-12) << "trial " << trial;
  }
}

// ----------------------------------------------------------------------------

TEST(MetricsAccumulator, MeansSkipQueriesWithoutRelevant) {
  const MetricOptions options = with_ks({1, 2}, 3);
  MetricsAccumulator accumulator(options);
  QueryMetrics a, b, none;
  a.num_relevant = 2;
  a.average_precision = 1.0;
  a.map_at_r = 0.5;
  a.r_precision = 0.5;
  a.reciprocal_rank = 1.0;
  a.precision_at_k = {1.0, 0.5};
  a.recall_at_k = {0.5, 0.5};
  a.hit_rate_at_k = {1, 1};
  a.interpolated_precision = {1, 1, 0.5};
  b.num_relevant = 1;
  b.average_precision = 0.5;
  b.map_at_r = 0.0;
  b.r_precision = 0.0;
  b.reciprocal_rank = 0.5;
  b.precision_at_k = {0.0, 0.5};
  b.recall_at_k = {0.0, 1.0};
  b.hit_rate_at_k = {0, 1};
  b.interpolated_precision = {0.5, 0.5, 0.5};
  none.precision_at_k = none.recall_at_k = none.hit_rate_at_k = {0, 0};
  none.interpolated_precision = {0, 0, 0};
  accumulator.add(a);
  accumulator.add(none);
  accumulator.add(b);
  const auto s = accumulator.summary();
  EXPECT_EQ(s.queries, 3);
  EXPECT_EQ(s.queries_without_relevant, 1);
  EXPECT_NEAR(s.mean_average_precision, 0.75, 1e-12);
  EXPECT_NEAR(s.map_at_r, 0.25, 1e-12);
  EXPECT_NEAR(s.r_precision, 0.25, 1e-12);
  EXPECT_NEAR(s.mean_reciprocal_rank, 0.75, 1e-12);
  EXPECT_EQ(s.ks, (std::vector<int>{1, 2}));
  EXPECT_NEAR(s.precision_at_k[0], 0.5, 1e-12);
  EXPECT_NEAR(s.precision_at_k[1], 0.5, 1e-12);
  EXPECT_NEAR(s.recall_at_k[1], 0.75, 1e-12);
  EXPECT_NEAR(s.hit_rate_at_k[0], 0.5, 1e-12);
  EXPECT_EQ(s.pr_recall, (std::vector<double>{0, 0.5, 1}));
  EXPECT_NEAR(s.pr_precision[0], 0.75, 1e-12);
  EXPECT_NEAR(s.pr_precision[2], 0.5, 1e-12);

  const auto j = s.to_json();
  EXPECT_NEAR(j["mAP"].get<double>(), 0.75, 1e-12);
  EXPECT_NEAR(j["P@K"]["2"].get<double>(), 0.5, 1e-12);
  EXPECT_EQ(j["queries_without_relevant"].get<int64_t>(), 1);
  EXPECT_EQ(j["pr_curve"]["recall"].size(), 3u);
  EXPECT_NE(s.to_table().find("mAP"), std::string::npos);

  QueryMetrics wrong = a;
  wrong.precision_at_k = {1.0};
  EXPECT_THROW(accumulator.add(wrong), imret::Error);
}

TEST(MetricsAccumulator, EmptyGivesZeros) {
  const auto s = MetricsAccumulator(MetricOptions{}).summary();
  EXPECT_EQ(s.queries, 0);
  EXPECT_EQ(s.mean_average_precision, 0.0);
  EXPECT_EQ(s.pr_precision.size(), 101u);
}

TEST(PrCurveCsv, WritesHeaderAndRows) {
  imret::eval::Summary s;
  s.pr_recall = {0, 0.5, 1};
  s.pr_precision = {1, 0.75, 0.5};
  const auto path = std::filesystem::temp_directory_path() / "imret_pr_curve_test.csv";
  imret::eval::write_pr_curve_csv(path, s);
  EXPECT_EQ(imret::read_file(path), "recall,precision\n0,1\n0.5,0.75\n1,0.5\n");
  std::filesystem::remove(path);
}
