#include "imret/data/tuple_sampler.hpp"

#include <gtest/gtest.h>

#include <set>

#include "imret/core/error.hpp"

using imret::data::offline_tuples;
using imret::data::TupleKind;

namespace {
std::vector<int64_t> labels_of(const std::vector<int64_t>& counts) {
  std::vector<int64_t> labels;
  for (size_t c = 0; c < counts.size(); ++c)
    for (int64_t i = 0; i < counts[c]; ++i) labels.push_back(static_cast<int64_t>(c) * 7);  // any label values
  return labels;
}
}  // namespace

TEST(OfflineTuples, PairsAreHalfPositiveWithOnePairPerAnchor) {
  const auto labels = labels_of({30, 20, 50, 1});
  const auto pairs = offline_tuples(labels, TupleKind::Pair, 3);
  int positives = 0;
  std::set<int64_t> anchors;
  for (const auto& p : pairs) {
    ASSERT_EQ(p.size(), 2u);
    EXPECT_TRUE(anchors.insert(p[0]).second) << "anchor " << p[0] << " used twice";
    EXPECT_NE(p[0], p[1]);
    const bool same = labels[static_cast<size_t>(p[0])] == labels[static_cast<size_t>(p[1])];
    positives += same;
    // The single item of its class never anchors a positive pair.
    if (same) EXPECT_NE(p[0], 100);
  }
  // Every anchor but (perhaps) the singleton class's item gets a pair.
  EXPECT_GE(pairs.size(), 100u);
  EXPECT_LE(std::abs(2 * positives - static_cast<int>(pairs.size())), 1);
}

TEST(OfflineTuples, TripletsHaveAPositiveOfTheAnchorsClassAndANegativeOfAnother) {
  const auto labels = labels_of({10, 10, 10, 1});
  const auto triplets = offline_tuples(labels, TupleKind::Triplet, 0);
  EXPECT_EQ(triplets.size(), 30u);  // the singleton cannot anchor a triplet
  std::set<int64_t> negatives_seen;
  for (const auto& t : triplets) {
    ASSERT_EQ(t.size(), 3u);
    EXPECT_NE(t[0], t[1]);
    EXPECT_EQ(labels[static_cast<size_t>(t[0])], labels[static_cast<size_t>(t[1])]);
    EXPECT_NE(labels[static_cast<size_t>(t[0])], labels[static_cast<size_t>(t[2])]);
    negatives_seen.insert(t[2]);
  }
  EXPECT_GT(negatives_seen.size(), 15u);  // drawn across the other classes, not one item
}

TEST(OfflineTuples, TheSeedFixesTheTuples) {
  const auto labels = labels_of({40, 40, 40});
  EXPECT_EQ(offline_tuples(labels, TupleKind::Pair, 5), offline_tuples(labels, TupleKind::Pair, 5));
  EXPECT_NE(offline_tuples(labels, TupleKind::Pair, 5), offline_tuples(labels, TupleKind::Pair, 6));
  EXPECT_THROW(offline_tuples(labels_of({5}), TupleKind::Pair, 0), imret::Error);
  EXPECT_THROW(offline_tuples(labels_of({1, 1, 1}), TupleKind::Triplet, 0), imret::Error);
}

TEST(OfflineTuples, BatchesFlattenConsecutiveTuples) {
  const std::vector<std::vector<int64_t>> tuples = {{1, 2}, {3, 4}, {5, 6}};
  const auto batches = imret::data::tuple_batches(tuples, 2);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0], (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(batches[1], (std::vector<int64_t>{5, 6}));
}

TEST(OfflineTuples, RowsFollowTheDeliveredItemsAndDropTuplesWithABadImage) {
  const std::vector<int64_t> planned = {10, 11, 12, 13, 14, 15, 10, 16, 17};
  // Everything delivered: tuple t sits at rows 3t..3t+2.
  auto rows = imret::data::tuple_rows(planned, 3, planned);
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, (std::vector<std::vector<int64_t>>{{0, 1, 2}, {3, 4, 5}, {6, 7, 8}}));
  // Image 14 was bad: the second tuple is gone, the third shifts up one row.
  rows = imret::data::tuple_rows(planned, 3, {10, 11, 12, 13, 15, 10, 16, 17});
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, (std::vector<std::vector<int64_t>>{{0, 1, 2}, {5, 6, 7}}));
  // Not this batch.
  EXPECT_FALSE(imret::data::tuple_rows(planned, 3, {99, 10}));
}
