// evaluate_retrieval: hand-checked small case, and block-by-block results equal
// to one full similarity matrix + evaluate_query per row; evaluate_retrieval_modes
// equal to one evaluate_retrieval per relevance; the modes tables.
#include "imret/eval/evaluate.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <random>

#include "imret/core/error.hpp"
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

// ----------------------------------------------------------------------------
// Several relevance modes over one ranking.

using imret::ObjectCounts;
using imret::eval::ObjectRelevance;
using imret::eval::ObjectRelevanceMode;

namespace {

// Random COCO-like items: 0 to 3 classes of 5, 1 to 3 instances each; some empty.
std::vector<ObjectCounts> random_objects(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<ObjectCounts> items(static_cast<size_t>(n));
  for (auto& item : items)
    for (int32_t c = 0; c < 5; ++c)
      if (rng() % 3 == 0) item.push_back({c, static_cast<int32_t>(1 + rng() % 3)});
  return items;
}

void expect_same_summary(const imret::eval::Summary& a, const imret::eval::Summary& b) {
  EXPECT_EQ(a.queries, b.queries);
  EXPECT_EQ(a.queries_without_relevant, b.queries_without_relevant);
  EXPECT_EQ(a.queries_without_gain, b.queries_without_gain);
  EXPECT_EQ(a.mean_average_precision, b.mean_average_precision);
  EXPECT_EQ(a.map_at_r, b.map_at_r);
  EXPECT_EQ(a.precision_at_k, b.precision_at_k);
  EXPECT_EQ(a.recall_at_k, b.recall_at_k);
  EXPECT_EQ(a.ndcg_at_k, b.ndcg_at_k);
  EXPECT_EQ(a.graded_map, b.graded_map);
  EXPECT_EQ(a.pr_precision, b.pr_precision);
}

}  // namespace

TEST(EvaluateRetrievalModes, EqualsOneEvaluationPerRelevance) {
  torch::manual_seed(5);
  const int64_t n = 300;  // > one block of 256 queries
  const auto x = torch::randn({n, 6});
  const auto objects = random_objects(n, 9);
  const ObjectRelevance selection(objects, objects, ObjectRelevanceMode::Selection, true);
  const ObjectRelevance aggregation(objects, objects, ObjectRelevanceMode::Aggregation, true);
  const ObjectRelevance weighted(objects, objects, ObjectRelevanceMode::Weighted, true);
  MetricOptions options;
  options.ndcg_ks = {5, 20};
  options.graded_ap = true;
  const auto modes =
      imret::eval::evaluate_retrieval_modes(x, x, Metric::Cosine, {&selection, &aggregation, &weighted}, options, true);
  ASSERT_EQ(modes.size(), 3u);
  const std::vector<const imret::eval::Relevance*> relevances = {&selection, &aggregation, &weighted};
  for (size_t r = 0; r < relevances.size(); ++r) {
    const auto one = evaluate_retrieval(x, x, Metric::Cosine, *relevances[r], options, true);
    expect_same_summary(modes[r].summary, one.summary);
    ASSERT_EQ(modes[r].per_query.size(), static_cast<size_t>(n));
    for (int64_t q = 0; q < n; ++q) {
      EXPECT_EQ(modes[r].per_query[q].average_precision, one.per_query[q].average_precision);
      EXPECT_EQ(modes[r].per_query[q].ndcg_at_k, one.per_query[q].ndcg_at_k);
    }
    EXPECT_GT(modes[r].summary.ndcg_at_k[0], 0.0);
  }
  // The modes differ: aggregation is stricter than selection.
  EXPECT_GT(modes[1].summary.queries_without_relevant, modes[0].summary.queries_without_relevant);
}

TEST(EvaluateRetrievalModes, GainsComeFromGainRow) {
  torch::manual_seed(6);
  const int64_t n = 80;
  const auto x = torch::randn({n, 4});
  const auto objects = random_objects(n, 3);
  const ObjectRelevance weighted(objects, objects, ObjectRelevanceMode::Weighted, true, 0.6);
  MetricOptions options;
  options.ndcg_ks = {10};
  options.graded_ap = true;
  const auto result = evaluate_retrieval(x, x, Metric::Euclidean, weighted, options, true);
  const auto full = imret::search::similarity(x, x, Metric::Euclidean).contiguous();
  std::vector<int8_t> grades(n);
  std::vector<float> gains(n);
  for (int64_t q = 0; q < n; ++q) {
    weighted.grade_row(q, grades.data());
    weighted.gain_row(q, gains.data());
    const auto m = imret::eval::evaluate_query(full[q].data_ptr<float>(), grades.data(), n, options, gains.data());
    EXPECT_NEAR(m.ndcg_at_k[0], result.per_query[q].ndcg_at_k[0], 1e-12) << q;
    EXPECT_NEAR(m.graded_average_precision, result.per_query[q].graded_average_precision, 1e-12) << q;
    EXPECT_EQ(m.total_gain, result.per_query[q].total_gain) << q;
  }
  // Without graded options no gains are read and nothing graded is reported.
  const auto plain = evaluate_retrieval(x, x, Metric::Euclidean, weighted, MetricOptions{});
  EXPECT_FALSE(plain.summary.to_json().contains("nDCG@K"));
  EXPECT_EQ(plain.summary.mean_average_precision, result.summary.mean_average_precision);
}

TEST(EvaluateRetrievalModes, Errors) {
  const auto x = torch::zeros({3, 2});
  SameClassRelevance ok({0, 0, 1}, {0, 0, 1}, false);
  SameClassRelevance wrong({0, 0}, {0, 0, 1}, false);
  MetricOptions options;
  EXPECT_THROW(imret::eval::evaluate_retrieval_modes(x, x, Metric::Euclidean, {}, options), imret::Error);
  EXPECT_THROW(imret::eval::evaluate_retrieval_modes(x, x, Metric::Euclidean, {&ok, nullptr}, options), imret::Error);
  EXPECT_THROW(imret::eval::evaluate_retrieval_modes(x, x, Metric::Euclidean, {&ok, &wrong}, options), imret::Error);
}

TEST(ModesTable, MetricsAsRowsModesAsColumns) {
  imret::eval::Summary selection, weighted;
  selection.queries = weighted.queries = 10;
  selection.queries_without_relevant = 1;
  weighted.queries_without_relevant = 4;
  selection.mean_average_precision = 0.5;
  weighted.mean_average_precision = 0.25;
  selection.ks = weighted.ks = {1, 5};
  selection.precision_at_k = {0.9, 0.8};
  weighted.precision_at_k = {0.7, 0.6};
  selection.recall_at_k = weighted.recall_at_k = {0.1, 0.2};
  weighted.ndcg_ks = {10};  // only the weighted mode has graded metrics
  weighted.ndcg_at_k = {0.625};
  weighted.graded_ap = true;
  weighted.graded_map = 0.375;
  weighted.queries_without_gain = 2;
  const std::vector<std::pair<std::string, imret::eval::Summary>> modes = {{"selection", selection},
                                                                           {"weighted", weighted}};
  const std::string table = imret::eval::modes_table(modes);
  EXPECT_NE(table.find("selection"), std::string::npos);
  EXPECT_NE(table.find("weighted"), std::string::npos);
  auto line_of = [](const std::string& text, const std::string& start) {
    const auto at = text.find(start);
    return at == std::string::npos ? std::string() : text.substr(at, text.find('\n', at) - at);
  };
  EXPECT_NE(line_of(table, "mAP ").find("0.5000"), std::string::npos);
  EXPECT_NE(line_of(table, "mAP ").find("0.2500"), std::string::npos);
  EXPECT_NE(line_of(table, "P@5").find("0.8000"), std::string::npos);
  EXPECT_NE(line_of(table, "R@1").find("0.1000"), std::string::npos);
  EXPECT_NE(line_of(table, "queries without relevant").find("4"), std::string::npos);
  const std::string ndcg = line_of(table, "nDCG@10");
  EXPECT_NE(ndcg.find("-"), std::string::npos);  // selection has no nDCG
  EXPECT_NE(ndcg.find("0.6250"), std::string::npos);
  EXPECT_NE(line_of(table, "graded mAP").find("0.3750"), std::string::npos);
  // Rows in order: mAP before P@K before nDCG before graded mAP.
  EXPECT_LT(table.find("mAP@R"), table.find("P@1"));
  EXPECT_LT(table.find("R@5"), table.find("nDCG@10"));
  EXPECT_LT(table.find("nDCG@10"), table.find("graded mAP"));

  const std::string markdown = imret::eval::modes_markdown(modes);
  EXPECT_EQ(markdown.substr(0, markdown.find('\n')), "| metric | selection | weighted |");
  EXPECT_NE(markdown.find("|---|---:|---:|"), std::string::npos);
  EXPECT_NE(markdown.find("| nDCG@10 | - | 0.6250 |"), std::string::npos);
  EXPECT_NE(markdown.find("| mAP | 0.5000 | 0.2500 |"), std::string::npos);
}
