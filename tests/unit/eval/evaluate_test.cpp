// evaluate_retrieval: hand-checked small case, and block-by-block results equal
// to one full similarity matrix + evaluate_query per row.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/eval/evaluate.hpp"
#include "imret/search/index.hpp"

using imret::eval::evaluate_retrieval;
using imret::eval::MetricOptions;
using imret::eval::SameClassRelevance;
using imret::search::Metric;

TEST(EvaluateRetrieval, HandCheckedOneDimensional) {
  // Database on a line at 0, 1, 2, 3 with labels 0, 0, 1, 1; query at 0.1 (label 0)
  // ranks 0(r) 1(r) 2 3 -> AP 1; query at 2.9 (label 0) ranks 3 2 1(r) 0(r) -> AP (1/3+2/4)/2.
  const auto database = torch::tensor({0.f, 1.f, 2.f, 3.f}).reshape({4, 1});
  const auto queries = torch::tensor({0.1f, 2.9f}).reshape({2, 1});
  SameClassRelevance relevance({0, 0}, {0, 0, 1, 1}, false);
  MetricOptions options;
  options.ks = {1, 2};
  const auto result = evaluate_retrieval(queries, database, Metric::Euclidean, relevance, options, true);
  ASSERT_EQ(result.per_query.size(), 2u);
  EXPECT_NEAR(result.per_query[0].average_precision, 1.0, 1e-12);
  EXPECT_NEAR(result.per_query[1].average_precision, (1.0 / 3 + 2.0 / 4) / 2, 1e-12);
  EXPECT_NEAR(result.summary.mean_average_precision, (1.0 + (1.0 / 3 + 2.0 / 4) / 2) / 2, 1e-12);
  EXPECT_NEAR(result.summary.precision_at_k[0], 0.5, 1e-12);
  EXPECT_NEAR(result.summary.mean_reciprocal_rank, (1.0 + 1.0 / 3) / 2, 1e-12);
  EXPECT_EQ(result.summary.queries, 2);
}

TEST(EvaluateRetrieval, BlocksMatchFullMatrixWithSelfExclusion) {
  torch::manual_seed(3);
  const int64_t n = 600;  // > one block of 256 queries
  const auto x = torch::randn({n, 8});
  std::vector<int64_t> labels(n);
  for (int64_t i = 0; i < n; ++i) labels[i] = i % 7;
  labels[5] = 99;  // a class of one: no relevant item once itself is excluded
  SameClassRelevance relevance(labels, labels, true);
  MetricOptions options;
  for (Metric metric : {Metric::Euclidean, Metric::Cosine}) {
    const auto result = evaluate_retrieval(x, x, metric, relevance, options, true);
    const auto full = imret::search::similarity(x, x, metric);
    imret::eval::MetricsAccumulator accumulator(options);
    std::vector<int8_t> grades(n);
    for (int64_t q = 0; q < n; ++q) {
      relevance.grade_row(q, grades.data());
      const auto m = imret::eval::evaluate_query(full[q].data_ptr<float>(), grades.data(), n, options);
      EXPECT_NEAR(m.average_precision, result.per_query[q].average_precision, 1e-12) << q;
      EXPECT_EQ(m.precision_at_k, result.per_query[q].precision_at_k) << q;  // counts: exact
      accumulator.add(m);
    }
    const auto expected = accumulator.summary();
    EXPECT_EQ(result.summary.queries_without_relevant, 1);
    EXPECT_NEAR(result.summary.mean_average_precision, expected.mean_average_precision, 1e-12);
    EXPECT_NEAR(result.summary.map_at_r, expected.map_at_r, 1e-12);
    EXPECT_GT(result.summary.mean_average_precision, 0.0);
  }
}

TEST(EvaluateRetrieval, ShapeErrors) {
  SameClassRelevance relevance({0, 0}, {0, 0, 1}, false);
  MetricOptions options;
  EXPECT_THROW(evaluate_retrieval(torch::zeros({2, 4}), torch::zeros({3, 5}), Metric::Euclidean, relevance, options),
               imret::Error);
  EXPECT_THROW(evaluate_retrieval(torch::zeros({3, 4}), torch::zeros({3, 4}), Metric::Euclidean, relevance, options),
               imret::Error);
  SameClassRelevance empty({0}, {}, false);
  EXPECT_THROW(evaluate_retrieval(torch::zeros({1, 4}), torch::zeros({0, 4}), Metric::Euclidean, empty, options),
               imret::Error);
}
