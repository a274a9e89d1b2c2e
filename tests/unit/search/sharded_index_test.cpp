// search::ShardedIndex over exact shards: the same result as one exact index
// (top-k, ties, range search, removal, vectors), and index folders that keep
// their shards.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "imret/core/error.hpp"
#include "imret/search/index_store.hpp"
#include "imret/search/sharded_index.hpp"

namespace imret::search {
namespace {
namespace fs = std::filesystem;

std::unique_ptr<Index> exact_over(const at::Tensor& database, Metric metric) {
  auto index = make_index("exact", torch::kCPU, metric);
  index->add(database);
  return index;
}

std::unique_ptr<ShardedIndex> sharded_over(const at::Tensor& database, Metric metric, int64_t shards) {
  auto index = make_sharded_index("exact", torch::kCPU, metric, shards);
  index->add(database);
  return index;
}

TEST(ShardedIndex, TopKEqualsOneExactIndex) {
  torch::manual_seed(3);
  const at::Tensor database = torch::randn({1001, 24}), queries = torch::randn({37, 24});
  for (Metric metric : {Metric::Euclidean, Metric::Cosine}) {
    auto one = exact_over(database, metric);
    for (int64_t shards : {1, 2, 3, 7}) {
      auto sharded = sharded_over(database, metric, shards);
      EXPECT_EQ(sharded->size(), 1001);
      EXPECT_EQ(sharded->shard_count(), shards);
      const std::vector<int64_t> sizes = sharded->shard_sizes();
      EXPECT_LE(*std::max_element(sizes.begin(), sizes.end()) - *std::min_element(sizes.begin(), sizes.end()), 1);
      for (int64_t k : {1, 10, 1001, 1500}) {
        const SearchResult a = one->search(queries, k), b = sharded->search(queries, k);
        EXPECT_TRUE(torch::equal(a.ids, b.ids)) << shards << " shards, k " << k;
        EXPECT_TRUE(torch::allclose(a.scores, b.scores, 1e-5, 1e-5)) << shards << " shards, k " << k;
      }
    }
  }
}

TEST(ShardedIndex, EqualScoresKeepTheLowerIdFirst) {
  // Every vector twice, in different shards: each query's pairs tie.
  torch::manual_seed(4);
  const at::Tensor half = torch::randn({50, 8});
  const at::Tensor database = torch::cat({half, half});
  auto sharded = sharded_over(database, Metric::Euclidean, 2);
  const SearchResult result = sharded->search(half.narrow(0, 0, 5), 2);
  for (int64_t q = 0; q < 5; ++q) {
    EXPECT_EQ(result.ids[q][0].item<int64_t>(), q);
    EXPECT_EQ(result.ids[q][1].item<int64_t>(), q + 50);
  }
}

TEST(ShardedIndex, RangeSearchRemovalAndVectorsAsOneIndex) {
  torch::manual_seed(5);
  const at::Tensor database = torch::randn({400, 6}), queries = torch::randn({9, 6});
  auto one = exact_over(database, Metric::Euclidean);
  auto sharded = sharded_over(database, Metric::Euclidean, 3);
  const RangeResult a = one->range_search(queries, 2.0), b = sharded->range_search(queries, 2.0);
  EXPECT_TRUE(torch::equal(a.lims, b.lims));
  EXPECT_TRUE(torch::equal(a.ids, b.ids));
  EXPECT_TRUE(torch::allclose(a.scores, b.scores, 1e-5, 1e-5));
  EXPECT_TRUE(torch::equal(one->vector(250), sharded->vector(250)));
  const std::vector<int64_t> removed = {399, 0, 133, 134, 266, 267, 5};
  one->remove_ids(removed);
  sharded->remove_ids(removed);
  EXPECT_EQ(sharded->size(), 393);
  EXPECT_TRUE(torch::equal(one->search(queries, 20).ids, sharded->search(queries, 20).ids));
  EXPECT_THROW(sharded->vector(393), Error);
  // Later adds go to the last shard, with the next ids.
  const at::Tensor more = torch::randn({10, 6});
  one->add(more);
  sharded->add(more);
  EXPECT_EQ(sharded->shard_sizes().back(), 133 + 10 - 2);
  EXPECT_TRUE(torch::equal(one->search(queries, 20).ids, sharded->search(queries, 20).ids));
}

TEST(ShardedIndex, FoldersKeepTheShards) {
  torch::manual_seed(6);
  const at::Tensor database = torch::randn({90, 4}), queries = torch::randn({3, 4});
  auto sharded = sharded_over(database, Metric::Cosine, 3);
  std::vector<EmbeddedItem> items;
  for (int64_t i = 0; i < 90; ++i) items.push_back({i, "item" + std::to_string(i), 0, "c", std::nullopt});
  const fs::path folder = fs::temp_directory_path() / ("imret_sharded_" + std::to_string(getpid()));
  save_index_folder(folder, *sharded, {}, items);
  EXPECT_TRUE(fs::exists(folder / "shard2.vectors.npy"));
  StoredIndex stored = load_index_folder(folder);
  EXPECT_EQ(stored.manifest.shards, (std::vector<int64_t>{30, 30, 30}));
  EXPECT_NE(stored.index->describe().find("3 shards"), std::string::npos);
  EXPECT_TRUE(torch::equal(stored.index->search(queries, 7).ids, sharded->search(queries, 7).ids));
  // A shard file that does not match the manifest is named.
  fs::copy_file(folder / "shard0.vectors.npy", folder / "shard1.vectors.npy", fs::copy_options::overwrite_existing);
  auto small = sharded_over(torch::randn({2, 4}), Metric::Cosine, 1);
  small->save(folder / "x.npy");
  fs::rename(folder / "shard0.x.npy", folder / "shard1.vectors.npy");
  try {
    load_index_folder(folder);
    ADD_FAILURE() << "a shard of 2 vectors was taken for one of 30";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("shard1.vectors.npy"), std::string::npos) << e.what();
  }
  fs::remove_all(folder);
}

TEST(ShardedIndex, NeedsAShardAndAVectorPerShard) {
  EXPECT_THROW(make_sharded_index("exact", torch::kCPU, Metric::Euclidean, 0), UsageError);
  auto three = make_sharded_index("exact", torch::kCPU, Metric::Euclidean, 3);
  EXPECT_THROW(three->add(torch::randn({2, 4})), UsageError);
  EXPECT_EQ(three->size(), 0);
  // A shard emptied by removals: the others still give the dimension and answer.
  three->add(torch::randn({3, 4}));
  three->remove_ids({0});
  EXPECT_EQ(three->dim(), 4);
  EXPECT_EQ(three->search(torch::randn({1, 4}), 5).ids[0][1].item<int64_t>() >= 0, true);
}

}  // namespace
}  // namespace imret::search
