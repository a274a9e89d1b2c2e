// kNN votes, ties, ignored -1 ids, distance weighting, per-class numbers.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/eval/knn.hpp"

using imret::eval::knn_classify;
using imret::search::Metric;
using imret::search::SearchResult;

namespace {

SearchResult result(std::vector<std::vector<int64_t>> ids, std::vector<std::vector<float>> scores = {},
                    Metric metric = Metric::Euclidean) {
  const int64_t rows = static_cast<int64_t>(ids.size()), cols = static_cast<int64_t>(ids[0].size());
  SearchResult r;
  r.metric = metric;
  r.ids = torch::empty({rows, cols}, torch::kInt64);
  r.scores = torch::zeros({rows, cols}, torch::kFloat32);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      r.ids[i][j] = ids[i][j];
      if (!scores.empty()) r.scores[i][j] = scores[i][j];
    }
  return r;
}

// Database item i has label labels[i]; neighbours are given as database ids.
const std::vector<int64_t> kLabels = {0, 1, 2, 0, 1, 2, 1};

}  // namespace

TEST(Knn, MajorityVote) {
  // ids 1,0,4 -> labels 1,0,1 -> class 1
  const auto r = knn_classify(result({{1, 0, 4}}), kLabels, {1}, 3, 3);
  EXPECT_EQ(r.predictions, (std::vector<int64_t>{1}));
  EXPECT_DOUBLE_EQ(r.accuracy, 1.0);
  // only the first k columns are used: k = 1 -> label of id 1 = 1; k=2 tie 1 vs 0 -> 1 (ranked first)
  EXPECT_EQ(knn_classify(result({{0, 1, 4}}), kLabels, {0}, 1, 3).predictions[0], 0);
}

TEST(Knn, TiesGoToTheClassRankedFirst) {
  EXPECT_EQ(knn_classify(result({{0, 1}}), kLabels, {0}, 2, 3).predictions[0], 0);  // labels 0,1
  EXPECT_EQ(knn_classify(result({{1, 0}}), kLabels, {0}, 2, 3).predictions[0], 1);  // labels 1,0
  // labels 2,1,1,2: both have 2 votes; class 2 has the best-ranked neighbour.
  EXPECT_EQ(knn_classify(result({{2, 1, 4, 5}}), kLabels, {1}, 4, 3).predictions[0], 2);
  // labels 0,1,2,1: class 1 has more votes though class 0 comes first.
  EXPECT_EQ(knn_classify(result({{0, 1, 2, 4}}), kLabels, {1}, 4, 3).predictions[0], 1);
}

TEST(Knn, IgnoresMissingNeighbours) {
  // -1, labels 1, 0, 0 -> class 0 (the -1 would otherwise be... nothing)
  EXPECT_EQ(knn_classify(result({{-1, 1, 0, 3}}), kLabels, {0}, 4, 3).predictions[0], 0);
  const auto none = knn_classify(result({{-1, -1}}), kLabels, {2}, 2, 3);
  EXPECT_EQ(none.predictions[0], -1);
  EXPECT_DOUBLE_EQ(none.accuracy, 0.0);
}

TEST(Knn, DistanceWeighted) {
  // labels 0,1,1 at distances 0.1,1,1: plain vote says 1, weights 10 vs 2 say 0.
  const auto neighbours = result({{0, 1, 4}}, {{0.1f, 1.0f, 1.0f}});
  EXPECT_EQ(knn_classify(neighbours, kLabels, {0}, 3, 3, false).predictions[0], 1);
  EXPECT_EQ(knn_classify(neighbours, kLabels, {0}, 3, 3, true).predictions[0], 0);
  // A neighbour at distance 0: only exact matches vote.
  const auto exact = result({{1, 0, 3}}, {{0.0f, 0.01f, 0.01f}});
  EXPECT_EQ(knn_classify(exact, kLabels, {1}, 3, 3, true).predictions[0], 1);
  // Cosine similarities 0.9, 0.5, 0.5 -> distances 0.1, 0.5, 0.5 -> weights 10, 2, 2.
  const auto cosine = result({{0, 1, 4}}, {{0.9f, 0.5f, 0.5f}}, Metric::Cosine);
  EXPECT_EQ(knn_classify(cosine, kLabels, {0}, 3, 3, true).predictions[0], 0);
}

TEST(Knn, PerClassAccuracyAndJson) {
  // query 0 (class 0): ids 0,3 -> 0 correct; query 1 (class 1): ids 2,5 -> 2 wrong;
  // query 2 (class 1): ids 1,6 -> 1 correct.
  const auto r = knn_classify(result({{0, 3}, {2, 5}, {1, 6}}), kLabels, {0, 1, 1}, 2, 3);
  EXPECT_EQ(r.predictions, (std::vector<int64_t>{0, 2, 1}));
  EXPECT_NEAR(r.accuracy, 2.0 / 3, 1e-12);
  EXPECT_EQ(r.per_class_count, (std::vector<int64_t>{1, 2, 0}));
  EXPECT_NEAR(r.per_class_accuracy[0], 1.0, 1e-12);
  EXPECT_NEAR(r.per_class_accuracy[1], 0.5, 1e-12);
  const auto j = r.to_json({"cat", "dog", "eel"});
  EXPECT_EQ(j["k"].get<int64_t>(), 2);
  EXPECT_EQ(j["per_class"][1]["class"].get<std::string>(), "dog");
  EXPECT_TRUE(j["per_class"][2]["accuracy"].is_null());
  EXPECT_EQ(r.to_json({})["per_class"][0]["class"].get<std::string>(), "0");
  EXPECT_THROW(r.to_json({"cat"}), imret::Error);
}

TEST(Knn, Errors) {
  EXPECT_THROW(knn_classify(result({{0, 1}}), kLabels, {0}, 3, 3), imret::Error);       // k > columns
  EXPECT_THROW(knn_classify(result({{0, 1}}), kLabels, {0}, 0, 3), imret::Error);       // k = 0
  EXPECT_THROW(knn_classify(result({{0, 1}}), kLabels, {5}, 2, 3), imret::Error);       // query label
  EXPECT_THROW(knn_classify(result({{0, 1}}), kLabels, {0, 1}, 2, 3), imret::Error);    // rows
  EXPECT_THROW(knn_classify(result({{0, 99}}), kLabels, {0}, 2, 3), imret::Error);      // id
  EXPECT_THROW(knn_classify(result({{0, 2}}), kLabels, {0}, 2, 2), imret::Error);       // database label
}
