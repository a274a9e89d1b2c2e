// search::without_self / search_without_self: each query's own row leaves its
// neighbour list, the others keep their order, and the list is k long.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/search/exact_index.hpp"
#include "imret/search/self_match.hpp"
#include "support/errors.hpp"

namespace imret::search {
namespace {

TEST(SelfMatch, DropsOwnRowAndKeepsTheOthersInOrder) {
  torch::manual_seed(3);
  const at::Tensor database = torch::randn({40, 5});
  ExactIndex index(Metric::Euclidean, c10::kCPU);
  index.add(database);
  const std::vector<int64_t> rows = {0, 7, 39, 12};
  const at::Tensor queries = database.index_select(0, torch::tensor(rows, torch::kLong));
  const SearchResult kept = search_without_self(index, queries, rows, 6);
  const SearchResult full = index.search(queries, 40);
  ASSERT_EQ(kept.ids.sizes(), (std::vector<int64_t>{4, 6}));
  for (size_t q = 0; q < rows.size(); ++q) {
    // Brute force: the full ranking without the query's row, first 6.
    std::vector<int64_t> expected;
    for (int64_t j = 0; j < 40 && expected.size() < 6; ++j)
      if (full.ids[q][j].item<int64_t>() != rows[q]) expected.push_back(full.ids[q][j].item<int64_t>());
    for (int64_t j = 0; j < 6; ++j) {
      EXPECT_EQ(kept.ids[q][j].item<int64_t>(), expected[static_cast<size_t>(j)]) << "query " << q << " rank " << j;
      EXPECT_NE(kept.ids[q][j].item<int64_t>(), rows[q]);
    }
  }
  EXPECT_TRUE(torch::all(kept.scores.slice(1, 1).ge(kept.scores.slice(1, 0, -1))).item<bool>());
}

TEST(SelfMatch, QueryOutsideTheDatabaseLosesItsLastColumn) {
  SearchResult result{torch::tensor({{4, 2, 9}}, torch::kLong), torch::tensor({{0.1f, 0.2f, 0.3f}}), Metric::Euclidean};
  const SearchResult kept = without_self(result, {-1}, 2);
  EXPECT_TRUE(torch::equal(kept.ids, torch::tensor({{4, 2}}, torch::kLong)));
  const SearchResult dropped = without_self(result, {2}, 2);
  EXPECT_TRUE(torch::equal(dropped.ids, torch::tensor({{4, 9}}, torch::kLong)));
  EXPECT_FLOAT_EQ(dropped.scores[0][1].item<float>(), 0.3f);
}

TEST(SelfMatch, PadsWhenNoSpareColumnIsLeft) {
  SearchResult result{torch::tensor({{5, 1}}, torch::kLong), torch::tensor({{0.9f, 0.5f}}), Metric::Cosine};
  const SearchResult kept = without_self(result, {5}, 2);
  EXPECT_EQ(kept.ids[0][0].item<int64_t>(), 1);
  EXPECT_EQ(kept.ids[0][1].item<int64_t>(), -1);
  EXPECT_EQ(kept.scores[0][1].item<float>(), -std::numeric_limits<float>::infinity());
}

TEST(SelfMatch, NeedsOneOwnRowPerQuery) {
  ExactIndex index(Metric::Euclidean, c10::kCPU);
  index.add(torch::randn({5, 3}));
  const std::string error =
      testing::error_of([&] { search_without_self(index, torch::randn({2, 3}), std::vector<int64_t>{0}, 1); });
  EXPECT_NE(error.find("1 own rows for 2 queries"), std::string::npos) << error;
}

}  // namespace
}  // namespace imret::search
