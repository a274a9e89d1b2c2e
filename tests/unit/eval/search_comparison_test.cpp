// The compare-search scoring: AP@k against the full-ranking AP, recall
// against exact search, top-k quality, spec parameters, and a comparison of
// exact backends (FAISS rows are tested in the e2e test and the FAISS tests).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/eval/metrics.hpp"
#include "imret/eval/search_comparison.hpp"
#include "imret/search/exact_index.hpp"

using imret::eval::average_precision_at_k;

TEST(SearchComparison, AveragePrecisionAtKByHand) {
  // Relevant at ranks 1 and 3, R = 2: (1/1 + 2/3) / 2.
  EXPECT_NEAR(average_precision_at_k({true, false, true, false}, 2), (1.0 + 2.0 / 3.0) / 2.0, 1e-12);
  // R = 10 but only k = 4 retrieved: divided by min(R, k) = 4.
  EXPECT_NEAR(average_precision_at_k({true, false, true, false}, 10), (1.0 + 2.0 / 3.0) / 4.0, 1e-12);
  EXPECT_EQ(average_precision_at_k({false, false}, 3), 0.0);
  EXPECT_EQ(average_precision_at_k({true}, 0), 0.0);
}

TEST(SearchComparison, AveragePrecisionOverTheWholeDatabaseIsTheAp) {
  // k = N and no ties: AP@N equals the full-ranking AP (scikit-learn's, checked elsewhere).
  torch::manual_seed(3);
  const int64_t n = 200;
  const auto scores = torch::randn({n});
  const auto relevance = torch::randint(0, 2, {n}, torch::kInt8);
  const auto order = scores.argsort(0, /*descending=*/true);
  std::vector<bool> ranked;
  for (int64_t i = 0; i < n; ++i) ranked.push_back(relevance[order[i].item<int64_t>()].item<int8_t>() > 0);
  const int64_t num_relevant = relevance.sum().item<int64_t>();
  imret::eval::MetricOptions options;
  const auto full = imret::eval::evaluate_query(scores.data_ptr<float>(), relevance.data_ptr<int8_t>(), n, options);
  EXPECT_NEAR(average_precision_at_k(ranked, num_relevant), full.average_precision, 1e-9);
}

TEST(SearchComparison, RecallAgainstExact) {
  imret::search::SearchResult exact, found;
  exact.ids = torch::tensor({0, 1, 2, 3, 4, 5}, torch::kLong).reshape({2, 3});
  found.ids = torch::tensor({1, 0, 9, 3, -1, -1}, torch::kLong).reshape({2, 3});
  EXPECT_NEAR(imret::eval::recall_against(found, exact, 3), 3.0 / 6.0, 1e-12);  // {0,1} and {3}
  EXPECT_NEAR(imret::eval::recall_against(found, exact, 1), 1.0 / 2.0, 1e-12);  // 3 == 3 only
  EXPECT_THROW(imret::eval::recall_against(found, exact, 4), imret::Error);
}

TEST(SearchComparison, TopKQualitySkipsUnlabelledQueries) {
  imret::search::SearchResult result;
  result.ids = torch::tensor({0, 2, 1, 3, 3, 1, 0, 2}, torch::kLong).reshape({2, 4});
  // database labels: items 0, 1 class 0; items 2, 3 class 1.
  const auto q = imret::eval::top_k_quality(result, {0, 0, 1, 1}, {0, -1});
  EXPECT_EQ(q.queries, 1);
  EXPECT_EQ(q.precision_at_1, 1.0);
  EXPECT_NEAR(q.precision_at_5, 2.0 / 5.0, 1e-12);  // 4 results, 2 relevant: P@5 counts the missing 5th as wrong
  EXPECT_NEAR(q.map_at_k, (1.0 + 2.0 / 3.0) / 2.0, 1e-12);
}

TEST(SearchComparison, SpecParameters) {
  auto [spec, parameters] = imret::eval::split_spec_parameters("faiss:IVF64,Flat@nprobe=16,efSearch=32");
  EXPECT_EQ(spec, "faiss:IVF64,Flat");
  ASSERT_EQ(parameters.entries().size(), 2u);
  EXPECT_EQ(parameters.entries()[0].first, "nprobe");
  EXPECT_EQ(parameters.entries()[1].second, 32.0);
  EXPECT_EQ(imret::eval::split_spec_parameters("faiss:HNSW32@efSearch=8,efSearch=64").second.to_string(), "efSearch=64");
  EXPECT_TRUE(imret::eval::split_spec_parameters("exact").second.empty());
  EXPECT_THROW(imret::eval::split_spec_parameters("faiss:HNSW32@efSearch"), imret::UsageError);
  EXPECT_THROW(imret::eval::split_spec_parameters("faiss:HNSW32@efSearch=x"), imret::UsageError);
  EXPECT_THROW(imret::eval::split_spec_parameters("faiss:HNSW32@"), imret::UsageError);
}

TEST(SearchComparison, ExactBackendsAgreeWithThemselvesAndTheTable) {
  torch::manual_seed(5);
  const auto database = torch::randn({400, 8}), queries = torch::randn({30, 8});
  std::vector<int64_t> database_labels, query_labels;
  for (int64_t i = 0; i < 400; ++i) database_labels.push_back(i % 4);
  for (int64_t i = 0; i < 30; ++i) query_labels.push_back(i % 4);
  imret::eval::SearchComparisonOptions options;
  options.k = 20;
  options.knn_k = 5;
  const auto rows = imret::eval::compare_search_backends({"exact", "exact:cosine"}, database, database_labels, queries,
                                                         query_labels, options);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[0].recall_at_10, 1.0);  // exact against itself
  EXPECT_LT(rows[1].recall_at_10, 1.0);         // cosine ranks differently from Euclidean
  EXPECT_GT(rows[0].queries_per_second, 0);
  EXPECT_EQ(rows[0].memory_bytes, 400 * 8 * 4 + 400 * 4);  // vectors + squared norms
  EXPECT_EQ(rows[0].quality.queries, 30);
  EXPECT_GE(rows[0].knn_accuracy, 0.0);
  const std::string table = imret::eval::search_comparison_markdown("t", rows);
  EXPECT_NE(table.find("| `exact:cosine` |"), std::string::npos) << table;
  EXPECT_NE(table.find("mAP@20"), std::string::npos) << table;
  EXPECT_THROW(imret::eval::compare_search_backends({"exact", "nonsense"}, database, database_labels, queries,
                                                    query_labels, options),
               imret::UsageError);
}

TEST(SearchComparison, SpecsOfOneBackendShareOneIndex) {
  torch::manual_seed(6);
  const auto database = torch::randn({300, 8}), queries = torch::randn({20, 8});
  std::vector<int64_t> database_labels(300, 0), query_labels(20, 0);
  imret::eval::SearchComparisonOptions options;
  options.k = 10;
  options.knn_k = 3;
  const auto rows = imret::eval::compare_search_backends({"exact", "exact:cosine", "exact"}, database, database_labels,
                                                         queries, query_labels, options);
  ASSERT_EQ(rows.size(), 3u);
  // The third row searched the first row's index: the same build, timed once.
  EXPECT_EQ(rows[2].add_seconds, rows[0].add_seconds);
  EXPECT_EQ(rows[2].memory_bytes, rows[0].memory_bytes);
  EXPECT_DOUBLE_EQ(rows[2].recall_at_10, 1.0);
  EXPECT_TRUE(rows[0].parameters.empty());
  // Query-time parameters go to the search call: the exact index takes none.
  try {
    imret::eval::compare_search_backends({"exact@nprobe=4"}, database, database_labels, queries, query_labels, options);
    FAIL() << "exact search took nprobe";
  } catch (const imret::UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "exact:l2 has no query-time parameter 'nprobe' (it takes none)");
  }
}

TEST(SearchComparison, RerankPlansAddARowPerBackend) {
  torch::manual_seed(7);
  const auto database = torch::randn({300, 8}), queries = torch::randn({20, 8});
  std::vector<int64_t> database_labels, query_labels;
  for (int64_t i = 0; i < 300; ++i) database_labels.push_back(i % 3);
  for (int64_t i = 0; i < 20; ++i) query_labels.push_back(i % 3);
  imret::eval::SearchComparisonOptions options;
  options.k = 10;
  options.knn_k = 3;
  options.rerank = {"kreciprocal:k1=5,k2=2,lambda=1", "aqe:k=3", "dba:k=2"};
  options.rerank_depth = 30;
  const auto rows = imret::eval::compare_search_backends({"exact", "exact:cosine"}, database, database_labels, queries,
                                                         query_labels, options);
  ASSERT_EQ(rows.size(), 8u);
  EXPECT_EQ(rows[0].rerank, "none");
  EXPECT_EQ(rows[1].rerank, "kreciprocal:k1=5,k2=2,lambda=1");
  EXPECT_EQ(rows[4].spec, "exact:cosine");
  // lambda = 1 keeps the exact ranking: the same recall and quality as the plain row.
  EXPECT_DOUBLE_EQ(rows[1].recall_at_10, 1.0);
  EXPECT_DOUBLE_EQ(rows[1].quality.map_at_k, rows[0].quality.map_at_k);
  // Query expansion changes the top 10; DBA searches an index of its own vectors.
  EXPECT_LT(rows[2].recall_at_10, 1.0);
  EXPECT_LT(rows[3].recall_at_10, 1.0);
  EXPECT_EQ(rows[1].memory_bytes, rows[0].memory_bytes);
  const std::string table = imret::eval::search_comparison_markdown("t", rows);
  EXPECT_NE(table.find("| `exact` | `aqe:k=3,alpha=3` |"), std::string::npos) << table;
  const std::string csv = imret::eval::search_comparison_csv(rows);
  EXPECT_NE(csv.find(",rerank\n"), std::string::npos) << csv;  // the last column: older readers keep theirs
  EXPECT_NE(csv.find(",\"dba:k=2,alpha=3\"\n"), std::string::npos) << csv;
  options.rerank = {"nope"};
  EXPECT_THROW(imret::eval::compare_search_backends({"exact"}, database, database_labels, queries, query_labels, options),
               imret::UsageError);
}
