// Losses on multi-label batches (N x C object counts): equal to the same
// loss computed by hand, or from explicit tuples / brute-force loops.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "imret/core/error.hpp"
#include "imret/learn/distance.hpp"
#include "imret/learn/label_relation.hpp"
#include "imret/learn/loss.hpp"
#include "imret/learn/objective.hpp"

using namespace imret;
using namespace imret::learn;

namespace {

double value(const LossResult& r) { return r.loss.item<double>(); }

// On a line, classes A, B, C:  r0 {A} at 0,  r1 {A, B} at 0.5,  r2 {B} at 2,
// r3 {C} at 0.25,  r4 {} at 0.1 (no objects: in no pair).
// Positive pairs: 0-1 (d 0.5), 1-2 (d 1.5). Negative pairs (share no class):
// 0-2 (2), 0-3 (0.25), 1-3 (0.25), 2-3 (1.75).
at::Tensor line_points() { return torch::tensor({0.0f, 0.5f, 2.0f, 0.25f, 0.1f}).reshape({5, 1}); }
at::Tensor line_objects() {
  return torch::tensor({1, 0, 0, 1, 1, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0}, torch::kLong).reshape({5, 3});
}

struct RandomBatch {
  at::Tensor embeddings, objects;
};

RandomBatch random_batch(uint64_t seed, int64_t n = 12, int64_t classes = 4) {
  auto gen = at::detail::createCPUGenerator(seed);
  RandomBatch b;
  b.embeddings = torch::randn({n, 5}, gen, torch::kDouble);
  b.embeddings = b.embeddings / b.embeddings.norm(2, 1, true);
  b.objects = (torch::rand({n, classes}, gen) < 0.35).to(torch::kLong);
  b.objects[3].zero_();
  return b;
}

std::vector<std::vector<double>> matrix_of(const at::Tensor& m) {
  std::vector<std::vector<double>> out(static_cast<size_t>(m.size(0)));
  for (int64_t i = 0; i < m.size(0); ++i)
    for (int64_t j = 0; j < m.size(1); ++j) out[i].push_back(m[i][j].item<double>());
  return out;
}

double mean_nonzero(const std::vector<double>& losses) {
  double sum = 0;
  int count = 0;
  for (double l : losses)
    if (l > 0) sum += l, ++count;
  return count ? sum / count : 0.0;
}

}  // namespace

TEST(MultiLabelLoss, ContrastiveByHand) {
  const ContrastiveLoss loss(make_distance("euclidean"));  // pos_margin 0, neg_margin 1
  const LossResult r = loss(line_points(), line_objects());
  EXPECT_EQ(r.tuples, 12);  // 4 ordered positive pairs, 8 negative ones
  EXPECT_EQ(r.nonzero, 8);  // the positives; negatives 0-3 and 1-3 both ways
  const double pos = (0.5 + 0.5 + 1.5 + 1.5) / 4, neg = 0.75;
  EXPECT_NEAR(value(r), pos + neg, 1e-5);
}

TEST(MultiLabelLoss, TripletByHandAndWithExplicitTriplets) {
  const TripletMarginLoss loss(make_distance("euclidean"), 0.2);
  const LossResult r = loss(line_points(), line_objects());
  // (0,1): n 2 -> 0, n 3 -> 0.45; (1,0): n 3 -> 0.45; (1,2): n 3 -> 1.45; (2,1): n 0, n 3 -> 0.
  EXPECT_EQ(r.tuples, 6);
  EXPECT_EQ(r.nonzero, 3);
  EXPECT_NEAR(value(r), (0.45 + 0.45 + 1.45) / 3, 1e-5);
  const Triplets all = all_triplets(line_objects());
  EXPECT_NEAR(value(loss(line_points(), line_objects(), &all)), value(r), 1e-6);
  // Both positive pairs have a Jaccard overlap of 1/2: a threshold of 0.6 keeps neither.
  const TripletMarginLoss strict(make_distance("euclidean"), 0.2, false, Reduction::kMeanNonZero, {0.6, false});
  EXPECT_EQ(strict(line_points(), line_objects()).tuples, 0);
}

TEST(MultiLabelLoss, QuadrupletEqualsBruteForce) {
  const RandomBatch b = random_batch(21);
  for (const LabelRelation& relation : {LabelRelation{}, LabelRelation{0.5, true}}) {
    const QuadrupletLoss loss(make_distance("euclidean"), 0.4, 0.2, Reduction::kMeanNonZero, relation);
    const LossResult r = loss(b.embeddings, b.objects);
    const auto masks = relation_masks(b.objects, relation);
    const auto pos = matrix_of(masks.positive.to(torch::kDouble)), neg = matrix_of(masks.negative.to(torch::kDouble));
    const auto d = matrix_of(torch::cdist(b.embeddings, b.embeddings));
    const size_t n = d.size();
    std::vector<double> first, second;
    for (size_t a = 0; a < n; ++a)
      for (size_t p = 0; p < n; ++p)
        for (size_t x = 0; x < n; ++x) {
          if (!pos[a][p] || !neg[a][x]) continue;
          first.push_back(std::max(0.0, d[a][p] - d[a][x] + 0.4));
          for (size_t k = 0; k < n; ++k)
            if (neg[a][k] && neg[x][k]) second.push_back(std::max(0.0, d[a][p] - d[x][k] + 0.2));
        }
    ASSERT_FALSE(second.empty());
    EXPECT_EQ(r.tuples, static_cast<int64_t>(first.size() + second.size()));
    EXPECT_NEAR(value(r), mean_nonzero(first) + mean_nonzero(second), 1e-9);
  }
}

TEST(MultiLabelLoss, MultiSimilarityEqualsBruteForceAndExplicitPairs) {
  const RandomBatch b = random_batch(33);
  const double alpha = 2, beta = 50, base = 0.5;
  for (const LabelRelation& relation : {LabelRelation{}, LabelRelation{0.5, false}}) {
    const MultiSimilarityLoss loss(alpha, beta, base, relation);
    const LossResult r = loss(b.embeddings, b.objects);
    const auto masks = relation_masks(b.objects, relation);
    const auto pos = matrix_of(masks.positive.to(torch::kDouble)), neg = matrix_of(masks.negative.to(torch::kDouble));
    const auto s = matrix_of(b.embeddings.mm(b.embeddings.t()));
    const size_t n = s.size();
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      double ps = 0, ns = 0;
      for (size_t j = 0; j < n; ++j) {
        if (pos[i][j]) ps += std::exp(-alpha * (s[i][j] - base));
        if (neg[i][j]) ns += std::exp(beta * (s[i][j] - base));
      }
      total += std::log1p(ps) / alpha + std::log1p(ns) / beta;
    }
    EXPECT_NEAR(value(r), total / static_cast<double>(n), 1e-9);
    const Pairs pairs = all_pairs(b.objects, relation);
    EXPECT_NEAR(value(loss(b.embeddings, b.objects, &pairs)), value(r), 1e-12);
  }
}

TEST(MultiLabelLoss, ProxyAnchorTakesAnImagesClassesAsItsPositiveProxies) {
  const RandomBatch b = random_batch(45, 10, 4);
  torch::manual_seed(0);
  ProxyAnchorLoss loss(4, 5, 0.1, 32.0);
  loss.to(torch::kDouble);
  const LossResult r = loss(b.embeddings, b.objects);
  namespace F = torch::nn::functional;
  const auto s = matrix_of(b.embeddings.mm(F::normalize(loss.proxies(), F::NormalizeFuncOptions().dim(1)).t()));
  const auto has = matrix_of((b.objects > 0).to(torch::kDouble));
  double pos_total = 0, neg_total = 0;
  int with_positives = 0;
  int64_t pairs = 0;
  for (size_t c = 0; c < 4; ++c) {
    double ps = 0, ns = 0;
    bool any = false;
    for (size_t x = 0; x < s.size(); ++x) {
      const bool labelled = has[x][0] + has[x][1] + has[x][2] + has[x][3] > 0;
      if (has[x][c]) ps += std::exp(-32.0 * (s[x][c] - 0.1)), any = true, ++pairs;
      else if (labelled) ns += std::exp(32.0 * (s[x][c] + 0.1)), ++pairs;  // row 3 (no objects): neither
    }
    if (any) ++with_positives, pos_total += std::log1p(ps);
    neg_total += std::log1p(ns);
  }
  EXPECT_EQ(r.tuples, pairs);
  EXPECT_NEAR(value(r), pos_total / with_positives + neg_total / 4, 1e-9);
  EXPECT_THROW(loss(b.embeddings, b.objects.slice(1, 0, 3)), Error);  // 3 columns for 4 classes
}

TEST(MultiLabelLoss, ClassificationUsesBinaryCrossEntropyAndExactSets) {
  const at::Tensor logits = torch::tensor({2.0, -1.0, 0.5, -3.0, 1.0, -2.0}).reshape({2, 3});
  const at::Tensor counts = torch::tensor({1, 0, 2, 0, 0, 0}, torch::kLong).reshape({2, 3});
  const StepLoss step = classification_loss(logits, counts);
  // Row 0 predicts {0, 2} = its set; row 1 predicts {1}, its set is empty.
  EXPECT_EQ(step.correct, 1);
  double expected = 0;
  const double x[6] = {2.0, -1.0, 0.5, -3.0, 1.0, -2.0}, y[6] = {1, 0, 1, 0, 0, 0};
  for (int i = 0; i < 6; ++i) expected += std::log1p(std::exp(-std::abs(x[i]))) + std::max(x[i], 0.0) - x[i] * y[i];
  EXPECT_NEAR(step.loss.item<double>(), expected / 6, 1e-6);  // float logits
  // Single labels: cross-entropy as before.
  const StepLoss single = classification_loss(logits, torch::tensor({0, 1}, torch::kLong));
  EXPECT_EQ(single.correct, 2);
}
