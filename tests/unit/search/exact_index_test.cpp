// ExactIndex against brute force (torch::cdist, normalised matmul), blocking,
// several add() chunks, padding, errors; the factory and metric names.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "imret/core/error.hpp"
#include "imret/search/exact_index.hpp"
#include "imret/search/index.hpp"

using imret::search::ExactIndex;
using imret::search::Metric;

namespace {

// The returned ids must carry the returned scores (true distance / similarity)
// and the scores must equal the brute-force top k.
void expect_matches_brute_force(const imret::search::SearchResult& r, const at::Tensor& full, int64_t k, bool largest) {
  auto [expected_scores, expected_ids] = full.topk(k, 1, largest, true);
  EXPECT_TRUE(torch::allclose(r.scores, expected_scores, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(full.gather(1, r.ids), r.scores, 1e-4, 1e-4));
  // Random data: no near-ties, so the ids themselves agree too.
  EXPECT_TRUE(torch::equal(r.ids, expected_ids));
}

}  // namespace

TEST(ExactIndex, EuclideanMatchesCdistWithBlocksAndChunks) {
  torch::manual_seed(1);
  const auto database = torch::randn({300, 16});
  const auto queries = torch::randn({50, 16});
  ExactIndex index(Metric::Euclidean, torch::kCPU, /*block_size=*/7, /*join_below=*/0);
  index.add(database.narrow(0, 0, 120));  // several chunks: results must merge across them
  index.add(database.narrow(0, 120, 180));
  EXPECT_EQ(index.size(), 300);
  EXPECT_EQ(index.dim(), 16);
  const auto r = index.search(queries, 10);
  EXPECT_EQ(r.metric, Metric::Euclidean);
  ASSERT_EQ(r.ids.sizes(), (std::vector<int64_t>{50, 10}));
  expect_matches_brute_force(r, torch::cdist(queries, database), 10, /*largest=*/false);
}

TEST(ExactIndex, CosineMatchesNormalisedProduct) {
  torch::manual_seed(2);
  const auto database = torch::randn({200, 12}) * 3;
  const auto queries = torch::randn({30, 12});
  ExactIndex index(Metric::Cosine);
  index.add(database.to(torch::kFloat64));  // any floating dtype
  const auto r = index.search(queries, 5);
  const auto full = torch::mm(torch::nn::functional::normalize(queries, torch::nn::functional::NormalizeFuncOptions().dim(1)),
                              torch::nn::functional::normalize(database, torch::nn::functional::NormalizeFuncOptions().dim(1)).t());
  expect_matches_brute_force(r, full, 5, /*largest=*/true);
  EXPECT_TRUE((r.scores.narrow(1, 0, 4) >= r.scores.narrow(1, 1, 4)).all().item<bool>());  // descending
}

TEST(ExactIndex, PadsWhenKExceedsSize) {
  ExactIndex index(Metric::Euclidean);
  index.add(torch::tensor({0.f, 1.f, 3.f}).reshape({3, 1}));
  const auto r = index.search(torch::tensor({0.9f}).reshape({1, 1}), 5);
  EXPECT_EQ(r.ids[0][0].item<int64_t>(), 1);
  EXPECT_EQ(r.ids[0][1].item<int64_t>(), 0);
  EXPECT_EQ(r.ids[0][2].item<int64_t>(), 2);
  EXPECT_EQ(r.ids[0][3].item<int64_t>(), -1);
  EXPECT_EQ(r.ids[0][4].item<int64_t>(), -1);
  EXPECT_NEAR(r.scores[0][0].item<float>(), 0.1f, 1e-5);
  EXPECT_NEAR(r.scores[0][2].item<float>(), 2.1f, 1e-5);
  EXPECT_TRUE(std::isinf(r.scores[0][4].item<float>()));

  ExactIndex cosine(Metric::Cosine);
  cosine.add(torch::tensor({1.f, 0.f}).reshape({1, 2}));
  const auto c = cosine.search(torch::tensor({1.f, 1.f}).reshape({1, 2}), 2);
  EXPECT_NEAR(c.scores[0][0].item<float>(), std::sqrt(0.5f), 1e-6);
  EXPECT_EQ(c.ids[0][1].item<int64_t>(), -1);
  EXPECT_LT(c.scores[0][1].item<float>(), -1e30f);
}

TEST(ExactIndex, Errors) {
  ExactIndex index(Metric::Euclidean);
  EXPECT_THROW(index.search(torch::zeros({1, 4}), 1), imret::Error);  // empty
  index.add(torch::zeros({3, 4}));
  EXPECT_THROW(index.search(torch::zeros({1, 5}), 1), imret::Error);  // dimension mismatch
  EXPECT_THROW(index.search(torch::zeros({1, 4}), 0), imret::Error);  // k <= 0
  EXPECT_THROW(index.add(torch::zeros({2, 5})), imret::Error);        // add with another dimension
  EXPECT_THROW(index.add(torch::zeros({4})), imret::Error);           // not a matrix
  EXPECT_THROW(index.add(torch::zeros({2, 4}, torch::kInt64)), imret::Error);
  EXPECT_THROW(ExactIndex(Metric::Cosine, torch::kCPU, 0), imret::Error);
  try {
    index.search(torch::zeros({1, 5}), 1);
  } catch (const imret::Error& e) {
    EXPECT_NE(std::string(e.what()).find("5 dimensions"), std::string::npos) << e.what();
  }
}

TEST(Factory, SpecsAndMetrics) {
  EXPECT_EQ(imret::search::make_index("exact", torch::kCPU)->metric(), Metric::Euclidean);
  EXPECT_EQ(imret::search::make_index("exact:l2", torch::kCPU)->metric(), Metric::Euclidean);
  EXPECT_EQ(imret::search::make_index("exact:cosine", torch::kCPU)->metric(), Metric::Cosine);
  EXPECT_THROW(imret::search::make_index("exact:manhattan", torch::kCPU), imret::UsageError);
  try {
    imret::search::make_index("hnsw", torch::kCPU);
    FAIL();
  } catch (const imret::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("exact:cosine"), std::string::npos);
  }
  EXPECT_EQ(imret::search::parse_metric("L2"), Metric::Euclidean);
  EXPECT_EQ(imret::search::parse_metric("euclidean"), Metric::Euclidean);
  EXPECT_EQ(imret::search::parse_metric("cosine"), Metric::Cosine);
  EXPECT_THROW(imret::search::parse_metric("dot"), imret::UsageError);
  EXPECT_EQ(imret::search::to_string(Metric::Cosine), "cosine");
  auto index = imret::search::make_index("exact:cosine", torch::kCPU);
  index->add(torch::zeros({2, 3}));
  EXPECT_NE(index->describe().find("2 vectors"), std::string::npos);
}

TEST(Similarity, MatchesCdistAndCosine) {
  torch::manual_seed(4);
  const auto q = torch::randn({9, 6}), d = torch::randn({13, 6});
  const auto euclidean = imret::search::similarity(q, d, Metric::Euclidean);
  EXPECT_TRUE(torch::allclose(euclidean, -torch::cdist(q, d), 1e-4, 1e-4));
  const auto cosine = imret::search::similarity(q, d, Metric::Cosine);
  EXPECT_TRUE(torch::allclose(cosine, torch::cosine_similarity(q.unsqueeze(1), d.unsqueeze(0), 2), 1e-5, 1e-5));
  EXPECT_THROW(imret::search::similarity(q, torch::randn({3, 7}), Metric::Cosine), imret::Error);
}
