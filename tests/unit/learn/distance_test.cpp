#include "imret/learn/distance.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "imret/core/error.hpp"

using namespace imret;
using namespace imret::learn;

namespace {
torch::Tensor rows(std::initializer_list<float> values, int64_t cols) {
  return torch::tensor(std::vector<float>(values)).reshape({-1, cols});
}
void expect_near(const torch::Tensor& actual, const torch::Tensor& expected, double tolerance) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  EXPECT_LE((actual - expected).abs().max().item<double>(), tolerance) << actual << "\nexpected\n" << expected;
}
}  // namespace

TEST(Distance, EuclideanByHand) {
  const auto a = rows({0, 0, 3, 4}, 2);
  const auto b = rows({0, 0, 1, 0}, 2);
  const auto d = make_distance("euclidean");
  EXPECT_FALSE(d->is_similarity());
  EXPECT_EQ(d->name(), "euclidean");
  // Coincident rows: sqrt of the 1e-12 clamp.
  expect_near(d->matrix(a, b), rows({1e-6f, 1, 5, std::sqrt(20.0f)}, 2), 1e-6);
  expect_near(d->paired(a, b), torch::tensor({1e-6f, std::sqrt(20.0f)}), 1e-6);
}

TEST(Distance, SquaredEuclideanAndCosineByHand) {
  const auto a = rows({0, 0, 3, 4}, 2);
  const auto b = rows({0, 0, 1, 0}, 2);
  const auto sq = make_distance("squared-euclidean");
  expect_near(sq->matrix(a, b), rows({0, 1, 25, 20}, 2), 1e-5);
  expect_near(sq->paired(a, b), torch::tensor({0.0f, 20.0f}), 1e-5);

  const auto cosine = make_distance("cosine");
  EXPECT_TRUE(cosine->is_similarity());
  const auto x = rows({1, 0, 0, 3}, 2);
  const auto y = rows({2, 0, 1, 1}, 2);
  const float h = static_cast<float>(1 / std::sqrt(2.0));
  expect_near(cosine->matrix(x, y), rows({1, h, 0, h}, 2), 1e-6);
  expect_near(cosine->paired(x, y), torch::tensor({1.0f, h}), 1e-6);
  // A row of zeros has similarity 0 with everything (no NaN).
  expect_near(cosine->paired(rows({0, 0}, 2), rows({1, 1}, 2)), torch::tensor({0.0f}), 0);
}

TEST(Distance, MatrixAgreesWithPairedAndTorch) {
  torch::manual_seed(3);
  const auto a = torch::randn({7, 5});
  const auto b = torch::randn({7, 5});
  for (const char* name : {"euclidean", "squared-euclidean", "cosine"}) {
    const auto d = make_distance(name);
    expect_near(d->matrix(a, b).diagonal(), d->paired(a, b), 1e-5);
  }
  expect_near(make_distance("euclidean")->matrix(a, b), torch::cdist(a, b), 1e-5);
  expect_near(make_distance("cosine")->paired(a, b), torch::cosine_similarity(a, b, 1), 1e-6);
  // eps = 1e-6 is torch's pairwise_distance (the distance of nn.TripletMarginLoss).
  const EuclideanDistance torch_like(1e-6);
  expect_near(torch_like.paired(a, b), torch::pairwise_distance(a, b, 2, 1e-6), 1e-6);
  expect_near(torch_like.matrix(a, b).diagonal(), torch::pairwise_distance(a, b, 2, 1e-6), 1e-5);
  // (1e-6 is too small to tell apart from 0 at float32 precision: check the formula with a large eps.)
  const EuclideanDistance large_eps(0.1);
  expect_near(large_eps.paired(a, b), torch::pairwise_distance(a, b, 2, 0.1), 1e-6);
  expect_near(large_eps.matrix(a, b).diagonal(), torch::pairwise_distance(a, b, 2, 0.1), 1e-5);
  EXPECT_GT((large_eps.paired(a, b) - make_distance("euclidean")->paired(a, b)).abs().max().item<double>(), 1e-2);
}

TEST(Distance, EuclideanGradientIsFiniteAtCoincidentRows) {
  auto a = rows({1, 2, 1, 2}, 2).requires_grad_(true);
  const auto d = make_distance("euclidean");
  (d->matrix(a, a).sum() + d->paired(a, a).sum()).backward();
  EXPECT_TRUE(torch::isfinite(a.grad()).all().item<bool>()) << a.grad();
}

TEST(Distance, GradientPointsAlongTheDifference) {
  auto a = rows({0, 0}, 2).requires_grad_(true);
  const auto b = rows({3, 4}, 2);
  make_distance("euclidean")->paired(a, b).sum().backward();
  // d||a - b|| / da = (a - b) / ||a - b||.
  expect_near(a.grad(), rows({-0.6f, -0.8f}, 2), 1e-6);
}

TEST(Distance, RejectsUnknownNamesAndBadShapes) {
  EXPECT_THROW(make_distance("manhattan"), UsageError);
  const auto d = make_distance("euclidean");
  EXPECT_THROW(d->matrix(torch::zeros({2, 3}), torch::zeros({2, 4})), Error);
  EXPECT_THROW(d->paired(torch::zeros({2, 3}), torch::zeros({3, 3})), Error);
}
