// Miners on multi-label batches (N x C object counts): every tuple follows
// the miner's LabelRelation; single labels give what they always gave.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "imret/core/error.hpp"
#include "imret/learn/distance.hpp"
#include "imret/learn/label_relation.hpp"
#include "imret/learn/miner.hpp"

using namespace imret::learn;

namespace {

using Triple = std::tuple<int64_t, int64_t, int64_t>;
using Pair = std::pair<int64_t, int64_t>;

std::vector<int64_t> values(const at::Tensor& t) {
  at::Tensor c = t.to(torch::kCPU, torch::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

std::vector<Triple> triples(const Triplets& t) {
  const auto a = values(t.anchor), p = values(t.positive), n = values(t.negative);
  std::vector<Triple> out;
  for (size_t i = 0; i < a.size(); ++i) out.emplace_back(a[i], p[i], n[i]);
  return out;
}

std::vector<Pair> pairs_of(const at::Tensor& x, const at::Tensor& y) {
  const auto a = values(x), b = values(y);
  std::vector<Pair> out;
  for (size_t i = 0; i < a.size(); ++i) out.emplace_back(a[i], b[i]);
  return out;
}

// Points on a line, classes A = 0, B = 1, C = 2:
//   row 0 {A, B} at 0    row 1 {A} at 1    row 2 {B} at 3
//   row 3 {C} at 0.6     row 4 {A, C} at 2.5    row 5 {} at 0.1 (no objects)
at::Tensor line_embeddings() {
  return torch::tensor({0.0f, 0.0f, 1.0f, 0.0f, 3.0f, 0.0f, 0.6f, 0.0f, 2.5f, 0.0f, 0.1f, 0.0f}).reshape({6, 2});
}
at::Tensor line_objects() {
  return torch::tensor({1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 2, 0, 0, 0}, torch::kLong).reshape({6, 3});
}

// A random multi-label batch: n rows on the unit sphere, each class of 5
// held with probability 0.3 (1 to 3 instances), rows 0 and 7 without objects.
struct RandomBatch {
  at::Tensor embeddings, objects;
};

RandomBatch random_batch(uint64_t seed = 3, int64_t n = 18) {
  auto gen = at::detail::createCPUGenerator(seed);
  RandomBatch b;
  b.embeddings = torch::randn({n, 8}, gen);
  b.embeddings = b.embeddings / b.embeddings.norm(2, 1, true);
  b.objects = (torch::rand({n, 5}, gen) < 0.3).to(torch::kLong) * torch::randint(1, 4, {n, 5}, gen);
  b.objects[0].zero_();
  b.objects[7].zero_();
  return b;
}

const std::vector<std::string> kTripletMiners = {"all",           "batch-hard",        "semi-hard", "semi-hard-hardest",
                                                 "random-hard",   "distance-weighted", "easy-positive"};
const std::vector<std::string> kPairMiners = {"all", "hard-negative", "hardest-negative"};
const std::vector<LabelRelation> kRelations = {{0.0, false}, {0.5, false}, {0.5, true}, {0.3, true}};

std::string describe(const LabelRelation& r) {
  return "overlap " + std::to_string(r.positive_overlap) + (r.overlap_negatives ? " below-overlap" : " disjoint");
}

}  // namespace

TEST(MultiLabelMiner, BatchHardPicksTheFarthestSharingAndTheNearestDisjointRow) {
  EuclideanDistance d;
  const auto t = triples(BatchHardTripletMiner().mine(line_embeddings(), line_objects(), d, 0.2));
  // Row 5 (no objects) is nearest to rows 0 and 3 but never mined.
  const std::vector<Triple> expected{{0, 2, 3}, {1, 4, 3}, {2, 0, 4}, {3, 4, 1}, {4, 0, 2}};
  EXPECT_EQ(t, expected);
  // Jaccard >= 0.5 with partial overlaps as negatives: for row 4 {A, C}, row 0
  // {A, B} (J = 1/3) becomes a negative and row 3 {C} its farthest positive.
  const auto o = triples(BatchHardTripletMiner({0.5, true}).mine(line_embeddings(), line_objects(), d, 0.2));
  const std::vector<Triple> expected_overlap{{0, 2, 3}, {1, 4, 3}, {2, 0, 4}, {3, 4, 1}, {4, 3, 2}};
  EXPECT_EQ(o, expected_overlap);
}

TEST(MultiLabelMiner, EveryTripletMinerReturnsOnlyValidTriplets) {
  const RandomBatch b = random_batch();
  for (const auto& distance_name : {"euclidean", "cosine"}) {
    const auto distance = make_distance(distance_name);
    for (const LabelRelation& relation : kRelations) {
      const RelationMasks masks = relation_masks(b.objects, relation);
      for (const auto& name : kTripletMiners) {
        const auto miner = make_triplet_miner(name, 11, relation);
        const double margin = distance->is_similarity() ? 0.3 : 0.5;
        const auto t = triples(miner->mine(b.embeddings, b.objects, *distance, margin));
        if (name == "all" || name == "batch-hard" || name == "easy-positive")
          EXPECT_FALSE(t.empty()) << name << " " << describe(relation);
        for (const auto& [a, p, n] : t) {
          EXPECT_TRUE(masks.positive[a][p].item<bool>()) << name << " " << describe(relation) << " " << a << "," << p;
          EXPECT_TRUE(masks.negative[a][n].item<bool>()) << name << " " << describe(relation) << " " << a << "," << n;
          EXPECT_NE(a, 0);
          EXPECT_NE(a, 7);
        }
      }
    }
  }
}

TEST(MultiLabelMiner, AllTripletsAreExactlyThePositiveNegativeCombinations) {
  const RandomBatch b = random_batch(5);
  EuclideanDistance d;
  for (const LabelRelation& relation : kRelations) {
    const RelationMasks m = relation_masks(b.objects, relation);
    std::vector<Triple> expected;
    const int64_t n = b.objects.size(0);
    for (int64_t a = 0; a < n; ++a)
      for (int64_t p = 0; p < n; ++p)
        for (int64_t x = 0; x < n; ++x)
          if (m.positive[a][p].item<bool>() && m.negative[a][x].item<bool>()) expected.emplace_back(a, p, x);
    EXPECT_EQ(triples(AllTripletMiner(relation).mine(b.embeddings, b.objects, d, 0)), expected) << describe(relation);
  }
}

TEST(MultiLabelMiner, EveryPairMinerReturnsOnlyValidPairs) {
  const RandomBatch b = random_batch(9);
  for (const auto& distance_name : {"euclidean", "cosine"}) {
    const auto distance = make_distance(distance_name);
    for (const LabelRelation& relation : kRelations) {
      const RelationMasks masks = relation_masks(b.objects, relation);
      for (const auto& name : kPairMiners) {
        const Pairs pairs =
            make_pair_miner(name, 0, relation)->mine(b.embeddings, b.objects, *distance,
                                                     distance->is_similarity() ? 0.0 : 1.2);
        const auto positives = pairs_of(pairs.a1, pairs.p), negatives = pairs_of(pairs.a2, pairs.n);
        // Every miner keeps every positive pair.
        EXPECT_EQ(static_cast<int64_t>(positives.size()), masks.positive.sum().item<int64_t>()) << name;
        for (const auto& [i, j] : positives) EXPECT_TRUE(masks.positive[i][j].item<bool>()) << name;
        for (const auto& [i, j] : negatives) EXPECT_TRUE(masks.negative[i][j].item<bool>()) << name;
        if (name == "all")
          EXPECT_EQ(static_cast<int64_t>(negatives.size()), masks.negative.sum().item<int64_t>());
      }
    }
  }
}

TEST(MultiLabelMiner, SingleLabelsMineTheSameWhateverTheRelation) {
  auto gen = at::detail::createCPUGenerator(4);
  at::Tensor e = torch::randn({20, 6}, gen);
  e = e / e.norm(2, 1, true);
  const at::Tensor labels = torch::arange(20, torch::kLong).remainder(5);
  EuclideanDistance d;
  for (const auto& name : kTripletMiners) {
    const auto plain = triples(make_triplet_miner(name, 3)->mine(e, labels, d, 0.4));
    const auto with_options = triples(make_triplet_miner(name, 3, {0.7, true})->mine(e, labels, d, 0.4));
    EXPECT_EQ(plain, with_options) << name;
  }
  for (const auto& name : kPairMiners) {
    const Pairs plain = make_pair_miner(name)->mine(e, labels, d, 1.0);
    const Pairs with_options = make_pair_miner(name, 0, {0.7, true})->mine(e, labels, d, 1.0);
    EXPECT_EQ(pairs_of(plain.a2, plain.n), pairs_of(with_options.a2, with_options.n)) << name;
    EXPECT_EQ(pairs_of(plain.a1, plain.p), pairs_of(with_options.a1, with_options.p)) << name;
  }
}

TEST(MultiLabelMiner, ABadOverlapIsRefused) {
  EXPECT_THROW(make_triplet_miner("batch-hard", 0, {1.5, false}), imret::Error);
  EXPECT_THROW(make_pair_miner("all", 0, {-1, false}), imret::Error);
  EuclideanDistance d;
  // Object counts with the wrong number of rows.
  EXPECT_THROW(BatchHardTripletMiner().mine(line_embeddings(), line_objects().slice(0, 0, 4), d, 0.1), imret::Error);
}
