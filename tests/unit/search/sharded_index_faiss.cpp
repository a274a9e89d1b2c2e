// search::ShardedIndex over FAISS shards against FAISS's own IndexShards
// (successive ids) over the very same shards, read back from the files imret
// saved: the same ids and distances.
#include <faiss/AutoTune.h>
#include <faiss/IndexShards.h>
#include <faiss/index_io.h>

#include <filesystem>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/search/sharded_index.hpp"

namespace imret::search {
namespace {

// copy_vectors gives what vector(id) gives, for many ids at once, with -1
// padding as zeros: for exact, FAISS (IVF through its direct map) and sharded indexes.
TEST(ShardedFaiss, CopyVectorsEqualsVectorForEveryBackend) {
  torch::manual_seed(9);
  const at::Tensor database = torch::randn({300, 8});
  std::vector<std::unique_ptr<Index>> indexes;
  for (const char* spec : {"exact", "faiss:Flat", "faiss:IVF4,Flat", "faiss:PQ4"}) {
    indexes.push_back(make_index(spec, torch::kCPU, Metric::Cosine));
    indexes.push_back(make_sharded_index(spec, torch::kCPU, Metric::Cosine, 3));
  }
  const std::vector<int64_t> ids = {0, 299, -1, 150, 7, 7};
  for (auto& index : indexes) {
    if (index->needs_training()) index->train(database);
    index->add(database);
    std::vector<float> out(ids.size() * 8, -1.0f);
    index->copy_vectors(ids.data(), static_cast<int64_t>(ids.size()), out.data());
    for (size_t i = 0; i < ids.size(); ++i) {
      const at::Tensor got = torch::from_blob(out.data() + i * 8, {1, 8}, torch::kFloat32);
      const at::Tensor expected = ids[i] < 0 ? torch::zeros({1, 8}) : index->vector(ids[i]);
      EXPECT_TRUE(torch::equal(got, expected)) << index->describe() << " id " << ids[i];
    }
    const int64_t outside = 300;
    EXPECT_THROW(index->copy_vectors(&outside, 1, out.data()), Error) << index->describe();
  }
}

TEST(ShardedFaiss, MergesAsFaissIndexShards) {
  torch::manual_seed(12);
  const int64_t n = 3000, d = 16, shards = 3;
  const at::Tensor database = torch::randn({n, d}), queries = torch::randn({40, d});
  for (const char* factory : {"Flat", "IVF16,Flat"}) {
    auto ours = make_sharded_index(std::string("faiss:") + factory, torch::kCPU, Metric::Euclidean, shards);
    if (ours->needs_training()) ours->train(database);
    ours->add(database);
    const std::filesystem::path folder =
        std::filesystem::temp_directory_path() / ("imret_shards_" + std::to_string(getpid()));
    std::filesystem::create_directories(folder);
    ours->save(folder / "index.faiss");
    faiss::IndexShards theirs(d, /*threaded=*/true, /*successive_ids=*/true);
    std::vector<std::unique_ptr<faiss::Index>> parts;
    for (int64_t s = 0; s < shards; ++s) {
      parts.emplace_back(faiss::read_index(shard_file(folder / "index.faiss", s).c_str()));
      if (ours->needs_training()) faiss::ParameterSpace().set_index_parameter(parts.back().get(), "nprobe", 4);
      EXPECT_EQ(parts.back()->ntotal, n * (s + 1) / shards - n * s / shards);
      theirs.add_shard(parts.back().get());
    }
    std::filesystem::remove_all(folder);
    SearchParams params;
    if (ours->needs_training()) ours->set_parameter("nprobe", 4);
    const SearchResult result = ours->search(queries, 10, params);
    std::vector<float> distances(40 * 10);
    std::vector<faiss::Index::idx_t> labels(40 * 10);
    theirs.search(40, queries.data_ptr<float>(), 10, distances.data(), labels.data());
    for (int64_t i = 0; i < 400; ++i) {
      EXPECT_EQ(result.ids.data_ptr<int64_t>()[i], labels[static_cast<size_t>(i)]) << factory << " entry " << i;
      EXPECT_NEAR(result.scores.data_ptr<float>()[i], std::sqrt(distances[static_cast<size_t>(i)]), 1e-4) << factory;
    }
  }
}

}  // namespace
}  // namespace imret::search
