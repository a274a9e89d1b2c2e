#include "imret/learn/miner.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "imret/core/error.hpp"

using namespace imret::learn;

namespace {

// Test-only distances, so these tests do not depend on distance.cpp.
class TestEuclidean : public Distance {
 public:
  at::Tensor matrix(const at::Tensor& a, const at::Tensor& b) const override { return torch::cdist(a, b); }
  at::Tensor paired(const at::Tensor& a, const at::Tensor& b) const override { return (a - b).norm(2, 1); }
  std::string name() const override { return "euclidean"; }
};

class TestCosine : public Distance {
 public:
  at::Tensor matrix(const at::Tensor& a, const at::Tensor& b) const override {
    namespace F = torch::nn::functional;
    return F::normalize(a, F::NormalizeFuncOptions().dim(1)).mm(F::normalize(b, F::NormalizeFuncOptions().dim(1)).t());
  }
  at::Tensor paired(const at::Tensor& a, const at::Tensor& b) const override {
    return torch::cosine_similarity(a, b, 1);
  }
  bool is_similarity() const override { return true; }
  std::string name() const override { return "cosine"; }
};

using Triple = std::tuple<int64_t, int64_t, int64_t>;
using Pair = std::pair<int64_t, int64_t>;

std::vector<int64_t> values(const at::Tensor& t) {
  EXPECT_EQ(t.scalar_type(), torch::kLong);
  EXPECT_EQ(t.dim(), 1);
  at::Tensor c = t.contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

std::vector<Triple> triples(const Triplets& t) {
  const auto a = values(t.anchor), p = values(t.positive), n = values(t.negative);
  EXPECT_EQ(a.size(), p.size());
  EXPECT_EQ(a.size(), n.size());
  std::vector<Triple> out;
  for (size_t i = 0; i < a.size(); ++i) out.emplace_back(a[i], p[i], n[i]);
  return out;
}

std::vector<Pair> pairs_of(const at::Tensor& x, const at::Tensor& y) {
  const auto a = values(x), b = values(y);
  EXPECT_EQ(a.size(), b.size());
  std::vector<Pair> out;
  for (size_t i = 0; i < a.size(); ++i) out.emplace_back(a[i], b[i]);
  return out;
}

// The hand-made batch: class 0 at (0,0), (1,0), (3,0); class 1 at (0,2), (5,5).
at::Tensor hand_embeddings() {
  return torch::tensor({0.0f, 0.0f, 1.0f, 0.0f, 3.0f, 0.0f, 0.0f, 2.0f, 5.0f, 5.0f}).reshape({5, 2});
}
at::Tensor hand_labels() { return torch::tensor({0, 0, 0, 1, 1}, torch::kLong); }

// A random batch: `classes` x `per_class` rows, labels shuffled, rows on the unit sphere.
struct RandomBatch {
  at::Tensor embeddings, labels;
  std::vector<int64_t> label;
  std::vector<std::vector<double>> d;  // test distance matrix
};

RandomBatch random_batch(const Distance& distance, int64_t classes = 6, int64_t per_class = 4, int64_t dim = 4,
                         uint64_t seed = 7) {
  auto gen = at::detail::createCPUGenerator(seed);
  RandomBatch b;
  const int64_t n = classes * per_class;
  b.embeddings = torch::randn({n, dim}, gen);
  b.embeddings = b.embeddings / b.embeddings.norm(2, 1, true);
  b.labels = torch::arange(n, torch::kLong).remainder(classes).index({torch::randperm(n, gen)});
  b.label = values(b.labels);
  at::Tensor m = distance.matrix(b.embeddings, b.embeddings).to(torch::kDouble);
  b.d.assign(n, std::vector<double>(n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) b.d[i][j] = m[i][j].item<double>();
  return b;
}

void expect_valid_labels(const std::vector<Triple>& ts, const std::vector<int64_t>& label) {
  for (const auto& [a, p, n] : ts) {
    EXPECT_NE(a, p);
    EXPECT_EQ(label[a], label[p]) << a << "," << p;
    EXPECT_NE(label[a], label[n]) << a << "," << n;
  }
}

}  // namespace

// ------------------------------------------------------------ hand-made answers

TEST(Miner, BatchHardHandMade) {
  TestEuclidean d;
  const auto t = triples(BatchHardTripletMiner().mine(hand_embeddings(), hand_labels(), d, 0.2));
  const std::vector<Triple> expected{{0, 2, 3}, {1, 2, 3}, {2, 0, 3}, {3, 4, 0}, {4, 3, 2}};
  EXPECT_EQ(t, expected);
}

TEST(Miner, EasyPositiveHandMade) {
  TestEuclidean d;
  const auto t = triples(EasyPositiveTripletMiner().mine(hand_embeddings(), hand_labels(), d, 0.2));
  const std::vector<Triple> expected{{0, 1, 3}, {1, 0, 3}, {2, 1, 3}, {3, 4, 0}, {4, 3, 2}};
  EXPECT_EQ(t, expected);
}

TEST(Miner, SemiHardHandMade) {
  TestEuclidean d;
  const auto all = triples(SemiHardTripletMiner(true).mine(hand_embeddings(), hand_labels(), d, 1.5));
  const std::vector<Triple> expected{{0, 1, 3}, {1, 0, 3}, {1, 2, 3}, {2, 0, 3}, {4, 3, 0}, {4, 3, 1}};
  EXPECT_EQ(all, expected);
  const auto hardest = triples(SemiHardTripletMiner(false).mine(hand_embeddings(), hand_labels(), d, 1.5));
  const std::vector<Triple> expected_hardest{{0, 1, 3}, {1, 0, 3}, {1, 2, 3}, {2, 0, 3}, {4, 3, 1}};
  EXPECT_EQ(hardest, expected_hardest);
}

TEST(Miner, SemiHardBoundsAreStrict) {
  TestEuclidean d;
  // Anchor (0,0) and positive (1,0): d_ap = 1. Negatives at 1 (= d_ap: not
  // semi-hard), 1.5 (semi-hard) and 2 (= d_ap + margin: not semi-hard).
  const at::Tensor e = torch::tensor({0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 1.5f, 0.0f, 2.0f}).reshape({5, 2});
  const at::Tensor labels = torch::tensor({0, 0, 1, 2, 3}, torch::kLong);
  const auto t = triples(SemiHardTripletMiner(true).mine(e, labels, d, 1.0));
  std::vector<Triple> from_anchor_0;
  for (const auto& x : t)
    if (std::get<0>(x) == 0) from_anchor_0.push_back(x);
  EXPECT_EQ(from_anchor_0, (std::vector<Triple>{{0, 1, 3}}));
}

TEST(Miner, TiesGoToTheLowestIndex) {
  TestEuclidean d;
  // Anchor (0,0): positives (1,0) and (0,1) at 1; negatives (2,0) and (0,2) at 2.
  const at::Tensor e = torch::tensor({0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 2.0f, 0.0f, 0.0f, 2.0f}).reshape({5, 2});
  const at::Tensor labels = torch::tensor({0, 0, 0, 1, 1}, torch::kLong);
  EXPECT_EQ(triples(BatchHardTripletMiner().mine(e, labels, d, 0.1))[0], Triple(0, 1, 3));
  EXPECT_EQ(triples(EasyPositiveTripletMiner().mine(e, labels, d, 0.1))[0], Triple(0, 1, 3));
}

TEST(Miner, AllTripletsHandMade) {
  TestEuclidean d;
  const auto t = triples(AllTripletMiner().mine(hand_embeddings(), hand_labels(), d, 0.2));
  // sum over classes of n_c (n_c - 1) (N - n_c) = 3*2*2 + 2*1*3
  EXPECT_EQ(t.size(), 18u);
  EXPECT_EQ(std::set<Triple>(t.begin(), t.end()).size(), 18u);
  expect_valid_labels(t, values(hand_labels()));
}

TEST(Miner, HardNegativePairsHandMade) {
  TestEuclidean d;
  const Pairs all = HardNegativePairMiner(false).mine(hand_embeddings(), hand_labels(), d, 2.3);
  const std::vector<Pair> positives{{0, 1}, {0, 2}, {1, 0}, {1, 2}, {2, 0}, {2, 1}, {3, 4}, {4, 3}};
  EXPECT_EQ(pairs_of(all.a1, all.p), positives);
  const std::vector<Pair> negatives{{0, 3}, {1, 3}, {3, 0}, {3, 1}};
  EXPECT_EQ(pairs_of(all.a2, all.n), negatives);
  const Pairs hardest = HardNegativePairMiner(true).mine(hand_embeddings(), hand_labels(), d, 2.3);
  EXPECT_EQ(pairs_of(hardest.a1, hardest.p), positives);
  const std::vector<Pair> hardest_negatives{{0, 3}, {1, 3}, {3, 0}};
  EXPECT_EQ(pairs_of(hardest.a2, hardest.n), hardest_negatives);
}

TEST(Miner, StatsHandMade) {
  TestEuclidean d;
  Triplets t{torch::tensor({0, 4}, torch::kLong), torch::tensor({1, 3}, torch::kLong),
             torch::tensor({3, 2}, torch::kLong)};
  const MiningStats s = triplet_stats(t, hand_embeddings(), d, 1.5);
  EXPECT_EQ(s.tuples, 2);
  EXPECT_NEAR(s.mean_positive, (1.0 + std::sqrt(34.0)) / 2, 1e-5);
  EXPECT_NEAR(s.mean_negative, (2.0 + std::sqrt(29.0)) / 2, 1e-5);
  EXPECT_EQ(s.violating, 2);  // 2 < 1 + 1.5 and 5.39 < 5.83 + 1.5
  EXPECT_EQ(triplet_stats(t, hand_embeddings(), d, 0.5).violating, 1);

  const Pairs p = HardNegativePairMiner(false).mine(hand_embeddings(), hand_labels(), d, 2.3);
  const MiningStats ps = pair_stats(p, hand_embeddings(), d, 2.1);
  EXPECT_EQ(ps.positive_pairs, 8);
  EXPECT_EQ(ps.negative_pairs, 4);
  EXPECT_EQ(ps.tuples, 12);
  EXPECT_EQ(ps.violating, 2);  // (0,3) and (3,0) at 2 < 2.1; (1,3) at 2.236 is not
}

// ------------------------------------------------------------ invariants on random data

TEST(Miner, BatchHardMatchesBruteForce) {
  TestEuclidean euclid;
  TestCosine cosine;
  for (const Distance* dist : std::vector<const Distance*>{&euclid, &cosine}) {
    const RandomBatch b = random_batch(*dist);
    const auto t = triples(BatchHardTripletMiner().mine(b.embeddings, b.labels, *dist, 0.1));
    const int64_t n = b.embeddings.size(0);
    ASSERT_EQ(static_cast<int64_t>(t.size()), n);  // every anchor has a positive and a negative
    expect_valid_labels(t, b.label);
    const double sign = dist->is_similarity() ? -1 : 1;  // larger sign*value = farther
    for (const auto& [a, p, x] : t) {
      for (int64_t j = 0; j < n; ++j) {
        if (j == a) continue;
        if (b.label[j] == b.label[a])
          EXPECT_GE(sign * b.d[a][p], sign * b.d[a][j]) << dist->name() << " anchor " << a;
        else
          EXPECT_LE(sign * b.d[a][x], sign * b.d[a][j]) << dist->name() << " anchor " << a;
      }
    }
  }
}

TEST(Miner, EasyPositiveMatchesBruteForce) {
  TestEuclidean dist;
  const RandomBatch b = random_batch(dist);
  const auto t = triples(EasyPositiveTripletMiner().mine(b.embeddings, b.labels, dist, 0.1));
  const int64_t n = b.embeddings.size(0);
  ASSERT_EQ(static_cast<int64_t>(t.size()), n);
  expect_valid_labels(t, b.label);
  for (const auto& [a, p, x] : t)
    for (int64_t j = 0; j < n; ++j) {
      if (j == a) continue;
      if (b.label[j] == b.label[a])
        EXPECT_LE(b.d[a][p], b.d[a][j]);
      else
        EXPECT_LE(b.d[a][x], b.d[a][j]);
    }
}

TEST(Miner, SemiHardMatchesBruteForce) {
  TestEuclidean euclid;
  TestCosine cosine;
  for (const Distance* dist : std::vector<const Distance*>{&euclid, &cosine}) {
    const RandomBatch b = random_batch(*dist);
    const double margin = 0.3;
    const double sign = dist->is_similarity() ? -1 : 1;
    const int64_t n = b.embeddings.size(0);
    std::set<Triple> expected;
    std::map<Pair, int64_t> hardest;
    for (int64_t a = 0; a < n; ++a)
      for (int64_t p = 0; p < n; ++p) {
        if (p == a || b.label[p] != b.label[a]) continue;
        for (int64_t x = 0; x < n; ++x) {
          if (b.label[x] == b.label[a]) continue;
          const double ap = sign * b.d[a][p], an = sign * b.d[a][x];
          if (an > ap && an < ap + margin) {
            expected.insert({a, p, x});
            auto it = hardest.find({a, p});
            if (it == hardest.end() || an < sign * b.d[a][it->second]) hardest[{a, p}] = x;
          }
        }
      }
    ASSERT_GT(expected.size(), 10u) << "the random batch should have semi-hard triplets";
    const auto t = triples(SemiHardTripletMiner(true).mine(b.embeddings, b.labels, *dist, margin));
    EXPECT_EQ(std::set<Triple>(t.begin(), t.end()), expected) << dist->name();
    EXPECT_EQ(t.size(), expected.size());
    for (const auto& [a, p, x] : t) {
      EXPECT_GT(sign * b.d[a][x], sign * b.d[a][p]);
      EXPECT_LT(sign * b.d[a][x], sign * b.d[a][p] + margin);
    }
    const auto h = triples(SemiHardTripletMiner(false).mine(b.embeddings, b.labels, *dist, margin));
    ASSERT_EQ(h.size(), hardest.size());
    for (const auto& [a, p, x] : h) EXPECT_EQ(hardest.at({a, p}), x);
  }
}

TEST(Miner, RandomHardViolatesMarginAndIsDeterministic) {
  TestEuclidean dist;
  const RandomBatch b = random_batch(dist);
  const double margin = 0.2;
  const int64_t n = b.embeddings.size(0);
  std::set<Pair> pairs_with_violator;
  for (int64_t a = 0; a < n; ++a)
    for (int64_t p = 0; p < n; ++p) {
      if (p == a || b.label[p] != b.label[a]) continue;
      for (int64_t x = 0; x < n; ++x)
        if (b.label[x] != b.label[a] && b.d[a][x] < b.d[a][p] + margin) pairs_with_violator.insert({a, p});
    }
  ASSERT_GT(pairs_with_violator.size(), 10u);
  RandomHardTripletMiner miner(42), same(42), other(43);
  const auto t = triples(miner.mine(b.embeddings, b.labels, dist, margin));
  expect_valid_labels(t, b.label);
  std::set<Pair> seen;
  for (const auto& [a, p, x] : t) {
    EXPECT_LT(b.d[a][x], b.d[a][p] + margin);
    EXPECT_TRUE(seen.insert({a, p}).second) << "one negative per (a, p)";
  }
  EXPECT_EQ(seen, pairs_with_violator);
  EXPECT_EQ(triples(same.mine(b.embeddings, b.labels, dist, margin)), t);
  EXPECT_NE(triples(other.mine(b.embeddings, b.labels, dist, margin)), t);
  // The second call draws anew, identically for the same seed.
  const auto second = triples(miner.mine(b.embeddings, b.labels, dist, margin));
  EXPECT_NE(second, t);
  EXPECT_EQ(triples(same.mine(b.embeddings, b.labels, dist, margin)), second);
  // Through the factory too.
  EXPECT_EQ(triples(make_triplet_miner("random-hard", 42)->mine(b.embeddings, b.labels, dist, margin)), t);
}

TEST(Miner, AllTripletsCountAndPairs) {
  TestEuclidean dist;
  const RandomBatch b = random_batch(dist, 5, 3);
  const auto t = triples(AllTripletMiner().mine(b.embeddings, b.labels, dist, 0.1));
  const int64_t n = 15, per = 3;
  EXPECT_EQ(static_cast<int64_t>(t.size()), 5 * per * (per - 1) * (n - per));
  EXPECT_EQ(std::set<Triple>(t.begin(), t.end()).size(), t.size());
  expect_valid_labels(t, b.label);

  const Pairs p = AllPairMiner().mine(b.embeddings, b.labels, dist, 0.1);
  EXPECT_EQ(p.a1.numel(), 5 * per * (per - 1));
  EXPECT_EQ(p.a2.numel(), n * (n - per));
  for (const auto& [x, y] : pairs_of(p.a1, p.p)) {
    EXPECT_NE(x, y);
    EXPECT_EQ(b.label[x], b.label[y]);
  }
  for (const auto& [x, y] : pairs_of(p.a2, p.n)) EXPECT_NE(b.label[x], b.label[y]);
}

TEST(Miner, HardNegativePairsMatchBruteForce) {
  TestEuclidean euclid;
  TestCosine cosine;
  for (const Distance* dist : std::vector<const Distance*>{&euclid, &cosine}) {
    const RandomBatch b = random_batch(*dist);
    const double margin = dist->is_similarity() ? 0.2 : 1.2;
    const int64_t n = b.embeddings.size(0);
    std::set<Pair> positives, negatives;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        if (i == j) continue;
        if (b.label[i] == b.label[j])
          positives.insert({i, j});
        else if (dist->is_similarity() ? b.d[i][j] > margin : b.d[i][j] < margin)
          negatives.insert({i, j});
      }
    ASSERT_GT(negatives.size(), 10u);
    ASSERT_LT(negatives.size(), static_cast<size_t>(n * (n - 4)));
    const Pairs p = make_pair_miner("hard-negative", 0)->mine(b.embeddings, b.labels, *dist, margin);
    const auto pos = pairs_of(p.a1, p.p), neg = pairs_of(p.a2, p.n);
    EXPECT_EQ(std::set<Pair>(pos.begin(), pos.end()), positives);
    EXPECT_EQ(pos.size(), positives.size());
    EXPECT_EQ(std::set<Pair>(neg.begin(), neg.end()), negatives) << dist->name();
    EXPECT_EQ(neg.size(), negatives.size());
  }
}

TEST(Miner, DistanceWeightedSamplesNegativesByInverseDensity) {
  TestEuclidean dist;
  // 4-D unit vectors: anchor 0 and positive 1 (class 0); negatives at chord
  // distances 0.2 (clipped to the 0.5 cutoff), 0.6, 1.2 and 1.5 (beyond the
  // 1.4 non-zero-loss cutoff: never drawn), each in a class of its own.
  auto at_distance = [](double d, int axis) {
    const double theta = 2 * std::asin(d / 2);
    std::vector<float> v(4, 0.0f);
    v[0] = static_cast<float>(std::cos(theta));
    v[axis] = static_cast<float>(std::sin(theta));
    return v;
  };
  std::vector<float> rows{1, 0, 0, 0};
  for (const auto& [d, axis] : std::vector<std::pair<double, int>>{{0.1, 3}, {0.2, 1}, {0.6, 2}, {1.2, 3}, {1.5, 1}}) {
    const auto v = at_distance(d, axis);
    rows.insert(rows.end(), v.begin(), v.end());
  }
  const at::Tensor e = torch::tensor(rows).reshape({6, 4});
  const at::Tensor labels = torch::tensor({0, 0, 1, 2, 3, 4}, torch::kLong);

  DistanceWeightedTripletMiner miner(5);
  auto w = [](double d) { return std::pow(d, 2.0 - 4) * std::pow(1 - d * d / 4, -(4 - 3) / 2.0); };
  EXPECT_NEAR(miner.weight(0.6, 4), w(0.6), 1e-9);
  EXPECT_NEAR(miner.weight(0.2, 4), w(0.5), 1e-9);
  EXPECT_EQ(miner.weight(1.5, 4), 0.0);
  const double total = w(0.5) + w(0.6) + w(1.2);

  std::map<int64_t, int> counts;
  const int calls = 4000;
  for (int c = 0; c < calls; ++c) {
    const auto t = triples(miner.mine(e, labels, dist, 0.0));
    ASSERT_EQ(t.size(), 2u);  // (0,1) and (1,0); the negatives have no positive
    expect_valid_labels(t, values(labels));
    for (const auto& [a, p, x] : t)
      if (a == 0) ++counts[x];
  }
  EXPECT_EQ(counts[5], 0);
  EXPECT_NEAR(counts[2] / double(calls), w(0.5) / total, 0.03);
  EXPECT_NEAR(counts[3] / double(calls), w(0.6) / total, 0.03);
  EXPECT_NEAR(counts[4] / double(calls), w(1.2) / total, 0.03);
}

TEST(Miner, DistanceWeightedOnRandomBatchIsValidAndDeterministic) {
  TestEuclidean dist;
  const RandomBatch b = random_batch(dist, 4, 4, 16);
  DistanceWeightedTripletMiner one(3), same(3), other(4);
  const auto t = triples(one.mine(b.embeddings, b.labels, dist, 0.0));
  ASSERT_FALSE(t.empty());
  expect_valid_labels(t, b.label);
  for (const auto& [a, p, x] : t) EXPECT_LT(b.d[a][x], 1.4);
  EXPECT_EQ(triples(same.mine(b.embeddings, b.labels, dist, 0.0)), t);
  EXPECT_NE(triples(other.mine(b.embeddings, b.labels, dist, 0.0)), t);
}

// ------------------------------------------------------------ edge cases

TEST(Miner, OneClassGivesEmptyTuples) {
  TestEuclidean dist;
  const at::Tensor e = torch::randn({6, 3});
  const at::Tensor labels = torch::zeros({6}, torch::kLong);
  for (const char* name :
       {"all", "batch-hard", "semi-hard", "semi-hard-hardest", "random-hard", "distance-weighted", "easy-positive"}) {
    const Triplets t = make_triplet_miner(name, 1)->mine(e, labels, dist, 0.5);
    EXPECT_EQ(t.anchor.numel(), 0) << name;
    EXPECT_EQ(t.positive.numel(), 0) << name;
    EXPECT_EQ(t.negative.numel(), 0) << name;
    EXPECT_EQ(t.anchor.scalar_type(), torch::kLong) << name;
    // Singletons: no positives at all.
    const Triplets s = make_triplet_miner(name, 1)->mine(e, torch::arange(6, torch::kLong), dist, 0.5);
    EXPECT_EQ(s.anchor.numel(), 0) << name;
    // An empty batch.
    const Triplets z =
        make_triplet_miner(name, 1)->mine(torch::zeros({0, 3}), torch::zeros({0}, torch::kLong), dist, 0.5);
    EXPECT_EQ(z.anchor.numel(), 0) << name;
  }
  for (const char* name : {"all", "hard-negative", "hardest-negative"}) {
    const Pairs p = make_pair_miner(name, 1)->mine(e, labels, dist, 100.0);
    EXPECT_EQ(p.a1.numel(), 30) << name;  // every ordered positive pair
    EXPECT_EQ(p.a2.numel(), 0) << name;
    EXPECT_EQ(p.a2.scalar_type(), torch::kLong) << name;
  }
}

TEST(Miner, NoGradientsAndBadInputs) {
  TestEuclidean dist;
  const at::Tensor e = torch::randn({8, 3}, torch::requires_grad());
  const at::Tensor labels = torch::tensor({0, 0, 1, 1, 2, 2, 3, 3}, torch::kLong);
  const Triplets t = make_triplet_miner("batch-hard")->mine(e, labels, dist, 0.1);
  EXPECT_EQ(t.anchor.numel(), 8);
  EXPECT_FALSE(t.anchor.requires_grad());
  EXPECT_TRUE(torch::GradMode::is_enabled());
  // Integer labels of another type work.
  EXPECT_EQ(triples(make_triplet_miner("batch-hard")->mine(e, labels.to(torch::kInt), dist, 0.1)), triples(t));

  EXPECT_THROW(make_triplet_miner("batch-hard")->mine(e, labels.slice(0, 0, 7), dist, 0.1), imret::Error);
  EXPECT_THROW(make_triplet_miner("semi-hard")->mine(e.reshape({24}), labels, dist, 0.1), imret::Error);
  EXPECT_THROW(make_pair_miner("hard-negative")->mine(e, labels.to(torch::kFloat), dist, 0.1), imret::Error);
  EXPECT_THROW(make_triplet_miner("hardest"), imret::UsageError);
  EXPECT_THROW(make_pair_miner("batch-hard"), imret::UsageError);
  EXPECT_EQ(make_triplet_miner("distance-weighted", 1)->name(), "distance-weighted");
  EXPECT_EQ(make_pair_miner("hardest-negative")->name(), "hardest-negative");
}

// With the library's distances (distance.cpp): on unit vectors, euclidean,
// squared-euclidean and cosine order the pairs alike, so the miners that only
// rank agree; distance-weighted converts each to the Euclidean distance.
TEST(Miner, AgreesAcrossTheLibraryDistances) {
  TestEuclidean test_distance;
  const RandomBatch b = random_batch(test_distance, 6, 4, 8, 11);
  const auto euclidean = make_distance("euclidean");
  const auto squared = make_distance("squared-euclidean");
  const auto cosine = make_distance("cosine");
  for (const char* name : {"batch-hard", "easy-positive", "distance-weighted"}) {
    const auto reference = triples(make_triplet_miner(name, 3)->mine(b.embeddings, b.labels, test_distance, 0.2));
    ASSERT_FALSE(reference.empty()) << name;
    for (const auto& d : {euclidean, squared, cosine})
      EXPECT_EQ(triples(make_triplet_miner(name, 3)->mine(b.embeddings, b.labels, *d, 0.2)), reference)
          << name << " with " << d->name();
  }
}

// The device algorithm (tensor operations, run here on the CPU) gives the
// loop's triplets in the loop's order: random batches, quantised embeddings
// (equal distances: the first negative wins), a similarity, and multi-label
// rows under both relations.
TEST(Miner, SemiHardDeviceAlgorithmEqualsTheLoop) {
  TestEuclidean euclid;
  TestCosine cosine;
  auto expect_same = [](const Triplets& loop, const Triplets& device, const std::string& what) {
    EXPECT_EQ(triples(loop), triples(device)) << what;
    EXPECT_FALSE(triples(loop).empty()) << what << ": the case should mine something";
  };
  for (const Distance* dist : std::vector<const Distance*>{&euclid, &cosine})
    for (bool quantised : {false, true})
      for (double margin : {0.3, 2.0}) {
        RandomBatch b = random_batch(*dist, 8, 6, 3, quantised ? 11 : 5);
        if (quantised) b.embeddings = (b.embeddings * 2).round() / 2;  // many equal distances
        const std::string what = dist->name() + (quantised ? ", quantised" : "") + ", margin " + std::to_string(margin);
        for (bool keep_all : {true, false})
          expect_same(SemiHardTripletMiner(keep_all).mine(b.embeddings, b.labels, *dist, margin),
                      imret::learn::detail::semi_hard_on_device(b.embeddings, b.labels, *dist, margin, keep_all),
                      what + (keep_all ? ", all" : ", hardest"));
      }
  // Multi-label rows (class sets), under each relation.
  auto gen = at::detail::createCPUGenerator(3);
  const at::Tensor rows = torch::randint(0, 3, {30, 4}, gen).clamp_max(1);
  const at::Tensor embeddings = torch::randn({30, 5}, gen);
  for (const LabelRelation& relation : {LabelRelation{0.0, false}, LabelRelation{0.5, true}})
    for (bool keep_all : {true, false})
      expect_same(SemiHardTripletMiner(keep_all, relation).mine(embeddings, rows, euclid, 1.0),
                  imret::learn::detail::semi_hard_on_device(embeddings, rows, euclid, 1.0, keep_all, relation),
                  "multi-label, overlap " + std::to_string(relation.positive_overlap));
  // An empty batch.
  const Triplets none =
      imret::learn::detail::semi_hard_on_device(torch::empty({0, 3}), torch::empty({0}, torch::kLong), euclid, 0.2, true);
  EXPECT_EQ(none.anchor.numel(), 0);
}
