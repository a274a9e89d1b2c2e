// TopKHeaps against torch::topk: several blocks, ties (lower id first), NaN,
// fewer candidates than k; and the exact index across database blocks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "imret/search/exact_index.hpp"
#include "imret/search/top_k.hpp"

using imret::search::TopKHeaps;

TEST(TopKHeaps, MatchesTorchTopkOverSeveralBlocks) {
  torch::manual_seed(1);
  const auto scores = torch::randn({37, 1000});
  TopKHeaps heaps(37, 25);
  for (int64_t start = 0; start < 1000; start += 300) {  // blocks of 300, 300, 300, 100
    const int64_t length = std::min<int64_t>(300, 1000 - start);
    const auto block = scores.narrow(1, start, length).contiguous();
    heaps.push(block.data_ptr<float>(), 0, 37, length, length, start);
  }
  auto [values, ids] = scores.topk(25, 1, true, true);
  for (int64_t r = 0; r < 37; ++r) {
    const auto best = heaps.sorted(r);
    ASSERT_EQ(best.size(), 25u);
    for (int64_t j = 0; j < 25; ++j) {
      EXPECT_EQ(best[static_cast<size_t>(j)].second, ids[r][j].item<int64_t>());
      EXPECT_EQ(best[static_cast<size_t>(j)].first, values[r][j].item<float>());
    }
  }
}

TEST(TopKHeaps, TiesKeepTheLowerIdAndNanIsNeverKept) {
  const float nan = std::nanf("");
  const std::vector<float> row = {nan, 1.f, 2.f, 2.f, 1.f, 2.f, nan, 0.f};
  TopKHeaps heaps(1, 4);
  heaps.push(row.data(), 0, 1, 8, 8, 100);
  const auto best = heaps.sorted(0);
  ASSERT_EQ(best.size(), 4u);
  EXPECT_EQ(best[0].second, 102);
  EXPECT_EQ(best[1].second, 103);
  EXPECT_EQ(best[2].second, 105);
  EXPECT_EQ(best[3].second, 101);  // 1.0 at ids 101 and 104: the lower one
  TopKHeaps few(1, 10);
  few.push(row.data(), 0, 1, 8, 8, 0);
  EXPECT_EQ(few.sorted(0).size(), 6u);  // every non-NaN score
}

TEST(ExactIndex, CpuSearchAcrossDatabaseBlocksMatchesCdist) {
  torch::manual_seed(2);
  const auto database = torch::randn({70000, 6}), queries = torch::randn({300, 6});  // > 65536: two blocks
  imret::search::ExactIndex index(imret::search::Metric::Euclidean);
  index.add(database);
  const auto r = index.search(queries, 12);
  auto [distances, ids] = torch::cdist(queries, database).topk(12, 1, false, true);
  EXPECT_TRUE(torch::equal(r.ids, ids));
  EXPECT_TRUE(torch::allclose(r.scores, distances, 1e-4, 1e-4));
}
