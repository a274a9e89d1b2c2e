#include "imret/learn/label_relation.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "imret/core/error.hpp"

using namespace imret::learn;

namespace {

// Rows of instance counts, 4 classes:
//   0: {0, 1}   1: {1}   2: {2, 3}   3: {0, 1, 2}   4: {} (no objects)   5: {1} x3 instances
torch::Tensor counts() {
  return torch::tensor({1, 2, 0, 0,  //
                        0, 1, 0, 0,  //
                        0, 0, 1, 1,  //
                        1, 1, 1, 0,  //
                        0, 0, 0, 0,  //
                        0, 3, 0, 0},
                       torch::kLong)
      .reshape({6, 4});
}

std::vector<std::vector<int>> as_rows(const at::Tensor& mask) {
  std::vector<std::vector<int>> out;
  for (int64_t i = 0; i < mask.size(0); ++i) {
    out.emplace_back();
    for (int64_t j = 0; j < mask.size(1); ++j) out.back().push_back(mask[i][j].item<bool>() ? 1 : 0);
  }
  return out;
}

}  // namespace

TEST(LabelRelation, SingleLabelsAreSameAndDifferentLabel) {
  const RelationMasks m = relation_masks(torch::tensor({0, 0, 1}, torch::kLong));
  EXPECT_EQ(as_rows(m.positive), (std::vector<std::vector<int>>{{0, 1, 0}, {1, 0, 0}, {0, 0, 0}}));
  EXPECT_EQ(as_rows(m.negative), (std::vector<std::vector<int>>{{0, 0, 1}, {0, 0, 1}, {1, 1, 0}}));
  // The options change nothing for single labels.
  const RelationMasks o = relation_masks(torch::tensor({0, 0, 1}, torch::kLong), {0.7, true});
  EXPECT_TRUE(o.positive.equal(m.positive));
  EXPECT_TRUE(o.negative.equal(m.negative));
}

TEST(LabelRelation, SharingAClassIsPositiveSharingNoneNegativeEmptyRowsNeither) {
  const RelationMasks m = relation_masks(counts());
  EXPECT_EQ(as_rows(m.positive), (std::vector<std::vector<int>>{{0, 1, 0, 1, 0, 1},
                                                                {1, 0, 0, 1, 0, 1},
                                                                {0, 0, 0, 1, 0, 0},
                                                                {1, 1, 1, 0, 0, 1},
                                                                {0, 0, 0, 0, 0, 0},
                                                                {1, 1, 0, 1, 0, 0}}));
  EXPECT_EQ(as_rows(m.negative), (std::vector<std::vector<int>>{{0, 0, 1, 0, 0, 0},
                                                                {0, 0, 1, 0, 0, 0},
                                                                {1, 1, 0, 0, 0, 1},
                                                                {0, 0, 0, 0, 0, 0},
                                                                {0, 0, 0, 0, 0, 0},
                                                                {0, 0, 1, 0, 0, 0}}));
}

TEST(LabelRelation, AnOverlapThresholdKeepsCloseSetsAndIgnoresTheRest) {
  // Jaccard: J(0,1) = 1/2, J(0,3) = 2/3, J(1,3) = 1/3, J(2,3) = 1/4, J(1,5) = 1, J(0,5) = 1/2, J(3,5) = 1/3.
  const RelationMasks m = relation_masks(counts(), {0.5, false});
  EXPECT_EQ(as_rows(m.positive), (std::vector<std::vector<int>>{{0, 1, 0, 1, 0, 1},
                                                                {1, 0, 0, 0, 0, 1},
                                                                {0, 0, 0, 0, 0, 0},
                                                                {1, 0, 0, 0, 0, 0},
                                                                {0, 0, 0, 0, 0, 0},
                                                                {1, 1, 0, 0, 0, 0}}));
  // Negatives still share no class: (1, 3) overlaps below the threshold and is neither.
  EXPECT_TRUE(m.negative.equal(relation_masks(counts()).negative));
  EXPECT_FALSE(m.positive[1][3].item<bool>());
  EXPECT_FALSE(m.negative[1][3].item<bool>());
}

TEST(LabelRelation, OverlapNegativesMakeEveryNonPositivePairNegative) {
  const RelationMasks m = relation_masks(counts(), {0.5, true});
  const RelationMasks threshold = relation_masks(counts(), {0.5, false});
  EXPECT_TRUE(m.positive.equal(threshold.positive));
  // Partial overlaps become negatives: (1, 3), (2, 3), (3, 5).
  EXPECT_TRUE(m.negative[1][3].item<bool>());
  EXPECT_TRUE(m.negative[2][3].item<bool>());
  EXPECT_TRUE(m.negative[5][3].item<bool>());
  // Complements among labelled rows, off the diagonal; empty rows still neither.
  at::Tensor labelled = torch::tensor({1, 1, 1, 1, 0, 1}, torch::kBool);
  at::Tensor pairs = labelled.unsqueeze(1) & labelled.unsqueeze(0) & torch::eye(6, torch::kBool).logical_not();
  EXPECT_TRUE((m.positive ^ m.negative).equal(pairs));
  EXPECT_FALSE((m.positive & m.negative).any().item<bool>());
  // At t = 0 "below the overlap" is "shares nothing".
  EXPECT_TRUE(relation_masks(counts(), {0, true}).negative.equal(relation_masks(counts()).negative));
}

TEST(LabelRelation, ThresholdOneMeansTheSameSetOfClasses) {
  const RelationMasks m = relation_masks(counts(), {1.0, false});
  EXPECT_TRUE(m.positive[1][5].item<bool>());  // {1} and {1} x3: counts do not matter
  EXPECT_EQ(m.positive.sum().item<int64_t>(), 2);
}

TEST(LabelRelation, RejectsBadLabelsAndThresholds) {
  EXPECT_THROW(relation_masks(torch::zeros({3, 2})), imret::Error);           // floating point
  EXPECT_THROW(relation_masks(torch::zeros({2, 2, 2}, torch::kLong)), imret::Error);
  EXPECT_THROW(relation_masks(counts(), {1.5, false}), imret::Error);
  EXPECT_THROW(relation_masks(counts(), {-0.1, false}), imret::Error);
  EXPECT_TRUE(rows_with_labels(counts()).equal(torch::tensor({1, 1, 1, 1, 0, 1}, torch::kBool)));
}
