// pipeline::evaluate_to_folder: the metrics it writes agree with a brute-force
// ranking computed here, self-exclusion drops each query's own row, and the
// folder holds what the relevance asks for.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "imret/core/error.hpp"
#include "imret/pipeline/evaluate_job.hpp"
#include "pipeline/small_data.hpp"
#include "support/errors.hpp"

namespace imret {
namespace {

namespace fs = std::filesystem;
using pipeline::EvaluationRequest;

nlohmann::json read_json(const fs::path& file) {
  std::ifstream in(file);
  return nlohmann::json::parse(in);
}

// Euclidean distances of every query to every database row, computed plainly.
std::vector<std::vector<double>> distances(const EmbeddingSet& queries, const EmbeddingSet& database) {
  std::vector<std::vector<double>> d(queries.items.size(), std::vector<double>(database.items.size()));
  const int64_t dim = queries.embeddings.cols;
  for (size_t q = 0; q < queries.items.size(); ++q)
    for (size_t r = 0; r < database.items.size(); ++r) {
      double sum = 0;
      for (int64_t c = 0; c < dim; ++c) {
        const double diff = queries.embeddings.values[q * dim + c] - database.embeddings.values[r * dim + c];
        sum += diff * diff;
      }
      d[q][r] = std::sqrt(sum);
    }
  return d;
}

// The database rows of query q by ascending distance, without row q when `exclude_self`.
std::vector<size_t> ranking(const std::vector<double>& row, size_t q, bool exclude_self) {
  std::vector<size_t> order;
  for (size_t r = 0; r < row.size(); ++r)
    if (!(exclude_self && r == q)) order.push_back(r);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return row[a] < row[b]; });
  return order;
}

// Mean average precision and 1-NN accuracy by brute force.
std::pair<double, double> brute_force(const EmbeddingSet& queries, const EmbeddingSet& database, bool exclude_self) {
  const auto d = distances(queries, database);
  double ap_sum = 0, correct = 0;
  for (size_t q = 0; q < queries.items.size(); ++q) {
    const std::vector<size_t> order = ranking(d[q], q, exclude_self);
    double hits = 0, precision_sum = 0;
    for (size_t rank = 0; rank < order.size(); ++rank)
      if (database.items[order[rank]].label == queries.items[q].label) {
        ++hits;
        precision_sum += hits / static_cast<double>(rank + 1);
      }
    ap_sum += hits > 0 ? precision_sum / hits : 0;
    correct += database.items[order[0]].label == queries.items[q].label ? 1 : 0;
  }
  const double n = static_cast<double>(queries.items.size());
  return {ap_sum / n, correct / n};
}

TEST(EvaluateJob, MetricsMatchBruteForceRanking) {
  const EmbeddingSet database = testing::clustered_set(4, 30, 8, 1.2, 1);
  const EmbeddingSet queries = testing::clustered_set(4, 10, 8, 1.2, 1);  // same centres, other draws
  const fs::path out = testing::scratch_path("pipeline", "evaluate_plain");
  fs::create_directories(out);
  EvaluationRequest request;
  request.knn_k = 1;
  const pipeline::EvaluationOutcome outcome = pipeline::evaluate_to_folder(queries, database, request, out);
  const auto [map, accuracy] = brute_force(queries, database, false);
  const nlohmann::json written = read_json(out / "metrics.json");
  EXPECT_EQ(written, outcome.metrics);
  EXPECT_NEAR(written["retrieval"]["mAP"].get<double>(), map, 1e-6);
  EXPECT_NEAR(written["knn"]["accuracy"].get<double>(), accuracy, 1e-12);
  EXPECT_LT(accuracy, 1.0);  // the clusters overlap: the test can tell a wrong neighbour
  EXPECT_EQ(written["relevance"], "same class");
  EXPECT_EQ(written["queries"], 40);
  EXPECT_TRUE(fs::exists(out / "pr_curve.csv"));
  EXPECT_NE(outcome.table.find("mAP"), std::string::npos);
}

TEST(EvaluateJob, ExcludeSelfDropsEachQuerysOwnRow) {
  const EmbeddingSet set = testing::clustered_set(3, 20, 6, 1.5, 2);
  const fs::path out = testing::scratch_path("pipeline", "evaluate_self");
  fs::create_directories(out);
  EvaluationRequest request;
  request.knn_k = 1;
  request.exclude_self = true;
  const nlohmann::json metrics = pipeline::evaluate_to_folder(set, set, request, out).metrics;
  const auto [map, accuracy] = brute_force(set, set, true);
  EXPECT_NEAR(metrics["retrieval"]["mAP"].get<double>(), map, 1e-6);
  EXPECT_NEAR(metrics["knn"]["accuracy"].get<double>(), accuracy, 1e-12);
  EXPECT_LT(accuracy, 1.0);  // with its own row each query would be its own nearest neighbour: 1.0
  EXPECT_TRUE(metrics["exclude_self"].get<bool>());
}

TEST(EvaluateJob, ObjectModesNeedItemsWithObjects) {
  const EmbeddingSet set = testing::clustered_set(2, 5, 4, 0.5, 3);
  const fs::path out = testing::scratch_path("pipeline", "evaluate_modes");
  fs::create_directories(out);
  EvaluationRequest request;
  request.relevance = "weighted";
  const std::string error = testing::error_of([&] { pipeline::evaluate_to_folder(set, set, request, out); });
  EXPECT_NE(error.find("relevance weighted grades images by their objects"), std::string::npos) << error;
  EXPECT_EQ(error.find("--"), std::string::npos) << "a library message names no flag: " << error;
  EXPECT_FALSE(fs::exists(out / "metrics.json"));
}

TEST(EvaluateJob, ObjectItemsAreGradedInTheThreeModes) {
  EmbeddingSet set = testing::clustered_set(3, 6, 4, 0.5, 4);
  for (auto& item : set.items) item.objects = ObjectCounts{{static_cast<int32_t>(item.label), 1}};
  const fs::path out = testing::scratch_path("pipeline", "evaluate_objects");
  fs::create_directories(out);
  std::ofstream(out / "pr_curve_selection.csv") << "stale\n";
  EvaluationRequest request;
  request.relevance = "aggregation";
  const nlohmann::json metrics = pipeline::evaluate_to_folder(set, set, request, out).metrics;
  EXPECT_EQ(metrics["relevance"], "objects: aggregation");
  for (const char* mode : {"selection", "aggregation", "weighted"}) {
    EXPECT_TRUE(metrics["modes"].contains(mode)) << mode;
    EXPECT_TRUE(fs::exists(out / (std::string("pr_curve_") + mode + ".csv"))) << mode;
  }
  // One object of the item's class each: all three modes mean "same class".
  EXPECT_EQ(metrics["modes"]["selection"]["mAP"], metrics["modes"]["aggregation"]["mAP"]);
  EXPECT_EQ(metrics["retrieval"], metrics["modes"]["aggregation"]);

  // A same-class evaluation afterwards removes the object modes' curves.
  request.relevance = "same-class";
  pipeline::evaluate_to_folder(set, set, request, out);
  EXPECT_FALSE(fs::exists(out / "pr_curve_selection.csv"));
}

TEST(EvaluateJob, RerankComparesEachPlanWithThePlainRanking) {
  const EmbeddingSet database = testing::clustered_set(4, 40, 8, 1.2, 6);
  const EmbeddingSet queries = testing::clustered_set(4, 10, 8, 1.2, 7);
  const fs::path out = testing::scratch_path("pipeline", "evaluate_rerank");
  fs::create_directories(out);
  EvaluationRequest request;
  request.knn_k = 0;
  request.rerank = {"aqe:k=0", "aqe:k=3", "kreciprocal:k1=5,k2=2,lambda=1"};
  request.rerank_depth = 30;
  const nlohmann::json metrics = pipeline::evaluate_to_folder(queries, database, request, out).metrics;
  const nlohmann::json& rows = metrics["rerank"];
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0]["rerank"], "none");
  // The plain row is the evaluation itself; a plan that keeps the ranking keeps its metrics.
  EXPECT_DOUBLE_EQ(rows[0]["mAP"].get<double>(), metrics["retrieval"]["mAP"].get<double>());
  for (size_t r : {size_t{1}, size_t{3}}) {
    EXPECT_DOUBLE_EQ(rows[r]["mAP"].get<double>(), rows[0]["mAP"].get<double>()) << rows[r]["rerank"];
    EXPECT_DOUBLE_EQ(rows[r]["mAP change"].get<double>(), 0.0);
  }
  EXPECT_EQ(rows[2]["rerank"], "aqe:k=3,alpha=3");
  EXPECT_NE(rows[2]["mAP"].get<double>(), rows[0]["mAP"].get<double>());  // expansion moves the full ranking
  EXPECT_NEAR(rows[2]["mAP change"].get<double>(), rows[2]["mAP"].get<double>() - rows[0]["mAP"].get<double>(), 1e-12);
  EXPECT_GT(rows[2]["search ms/query"].get<double>(), 0);
  EXPECT_EQ(metrics["rerank_depth"], 30);
  std::ifstream table(out / "rerank.md");
  const std::string text((std::istreambuf_iterator<char>(table)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("| `aqe:k=3,alpha=3` |"), std::string::npos) << text;
  EXPECT_NE(text.find("| +0.000 |"), std::string::npos) << text;

  // A bad spec fails before any work, naming it; no rerank.md is left from it.
  request.rerank = {"aqe", "kreciprocal:k9=1"};
  fs::remove(out / "metrics.json");
  const std::string error = testing::error_of([&] { pipeline::evaluate_to_folder(queries, database, request, out); });
  EXPECT_NE(error.find("kreciprocal:k9=1"), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(out / "metrics.json"));
}

TEST(EvaluateJob, RefusesEmbeddingsOfDifferentSizes) {
  const EmbeddingSet queries = testing::clustered_set(2, 3, 4, 0.5, 5);
  const EmbeddingSet database = testing::clustered_set(2, 3, 5, 0.5, 5);
  const std::string error = testing::error_of(
      [&] { pipeline::evaluate_to_folder(queries, database, {}, testing::scratch_path("pipeline", "unused")); });
  EXPECT_NE(error.find("4-d embeddings, the database 5-d"), std::string::npos) << error;
}

}  // namespace
}  // namespace imret
