// Removing items from an exact index: what is left searches exactly as an
// index built from the remaining rows alone, ids stay dense, small adds join
// one chunk without changing any result.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/search/exact_index.hpp"

using imret::search::ExactIndex;
using imret::search::Metric;

namespace {

// `database` without the rows `removed`.
at::Tensor without_rows(const at::Tensor& database, const std::vector<int64_t>& removed) {
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < database.size(0); ++i)
    if (std::find(removed.begin(), removed.end(), i) == removed.end()) kept.push_back(i);
  return database.index_select(0, torch::tensor(kept, torch::kInt64));
}

}  // namespace

TEST(IndexRemove, ExactSearchesAsAnIndexOfTheRemainingRows) {
  torch::manual_seed(3);
  const at::Tensor database = torch::randn({200, 12});
  const at::Tensor queries = torch::randn({20, 12});
  for (Metric metric : {Metric::Euclidean, Metric::Cosine}) {
    // Three chunks (join_below 0), removals inside each and at both ends.
    ExactIndex index(metric, torch::kCPU, 2048, /*join_below=*/0);
    index.add(database.narrow(0, 0, 50));
    index.add(database.narrow(0, 50, 100));
    index.add(database.narrow(0, 150, 50));
    ASSERT_TRUE(index.can_remove());
    const std::vector<int64_t> removed = {199, 0, 75, 76, 149, 150, 75};  // unsorted, one twice
    index.remove_ids(removed);
    EXPECT_EQ(index.size(), 194);

    ExactIndex fresh(metric);
    fresh.add(without_rows(database, removed));
    const auto got = index.search(queries, 15);
    const auto expected = fresh.search(queries, 15);
    EXPECT_TRUE(torch::equal(got.ids, expected.ids));
    EXPECT_TRUE(torch::allclose(got.scores, expected.scores, 1e-5, 1e-5));
    // Dense ids: the item after a removed one moved down.
    EXPECT_TRUE(torch::allclose(index.vector(74), fresh.vector(74)));
    EXPECT_TRUE(torch::allclose(index.vector(193), fresh.vector(193)));
  }
}

TEST(IndexRemove, OutOfRangeIdsChangeNothing) {
  torch::manual_seed(4);
  ExactIndex index(Metric::Euclidean);
  index.add(torch::randn({10, 4}));
  EXPECT_THROW(index.remove_ids({3, 10}), imret::Error);
  EXPECT_THROW(index.remove_ids({-1}), imret::Error);
  EXPECT_EQ(index.size(), 10);
  index.remove_ids({});
  EXPECT_EQ(index.size(), 10);
}

TEST(IndexRemove, SmallAddsJoinOneChunkWithTheSameResults) {
  torch::manual_seed(5);
  const at::Tensor database = torch::randn({64, 8});
  const at::Tensor queries = torch::randn({9, 8});
  ExactIndex one_at_a_time(Metric::Euclidean), at_once(Metric::Euclidean);
  for (int64_t i = 0; i < 64; ++i) one_at_a_time.add(database.narrow(0, i, 1));
  at_once.add(database);
  const auto a = one_at_a_time.search(queries, 64), b = at_once.search(queries, 64);
  EXPECT_TRUE(torch::equal(a.ids, b.ids));
  EXPECT_TRUE(torch::allclose(a.scores, b.scores, 1e-5, 1e-5));
}
