// pipeline::build_index_folder / add_to_index_folder / index_in_memory: a
// saved index answers as a brute-force search over the vectors it was given,
// an added folder extends it, and bad folders are refused without touching it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/embedding_tensor.hpp"
#include "imret/pipeline/index_jobs.hpp"
#include "imret/rerank/plan.hpp"
#include "imret/search/index_store.hpp"
#include "pipeline/small_data.hpp"
#include "support/errors.hpp"

namespace imret {
namespace {

namespace fs = std::filesystem;

fs::path saved_set(const std::string& name, const EmbeddingSet& set) {
  const fs::path folder = testing::scratch_path("pipeline", name);
  save_embedding_set(folder, set.embeddings.values.data(), set.embeddings.rows, set.embeddings.cols, set.items,
                     {{"checkpoint", "/nets/" + name + ".safetensors"}});
  return folder;
}

// The ids of the k nearest rows of `database` (Euclidean), by brute force.
at::Tensor brute_force_ids(const at::Tensor& queries, const at::Tensor& database, int64_t k) {
  return std::get<1>(torch::cdist(queries, database).topk(k, 1, /*largest=*/false));
}

TEST(IndexJobs, BuiltFolderSearchesLikeBruteForce) {
  const EmbeddingSet set = testing::clustered_set(3, 25, 6, 1.0, 21);
  const fs::path embeddings = saved_set("index_source", set);
  pipeline::IndexBuildRequest request;
  request.embeddings = embeddings.string();
  const fs::path folder = testing::scratch_path("pipeline", "index_built");
  const pipeline::IndexBuildOutcome outcome = pipeline::build_index_folder(request, folder);
  EXPECT_EQ(outcome.fill.added, 75);
  EXPECT_EQ(outcome.fill.trained_on, 0);
  const search::StoredIndex stored = search::load_index_folder(folder);
  EXPECT_EQ(stored.items.size(), 75u);
  EXPECT_EQ(stored.manifest.sources, std::vector<std::string>{fs::absolute(embeddings).lexically_normal().string()});
  EXPECT_EQ(stored.manifest.embedding_meta["checkpoint"], "/nets/index_source.safetensors");
  const at::Tensor vectors = embeddings_tensor(set);
  const at::Tensor queries = vectors.slice(0, 0, 10) + 0.05;
  EXPECT_TRUE(torch::equal(stored.index->search(queries, 4).ids, brute_force_ids(queries, vectors, 4)));
}

TEST(IndexJobs, DatabaseAugmentationIsRecordedAndChecked) {
  const EmbeddingSet set = testing::clustered_set(3, 20, 6, 1.0, 24);
  const fs::path embeddings = saved_set("index_dba_source", set);
  pipeline::IndexBuildRequest request;
  request.embeddings = embeddings.string();
  request.augment = "dba:k=3,alpha=1";
  const fs::path folder = testing::scratch_path("pipeline", "index_dba");
  pipeline::build_index_folder(request, folder);
  const search::StoredIndex stored = search::load_index_folder(folder);
  EXPECT_EQ(stored.manifest.augmentation, "dba:k=3,alpha=1");
  // The stored vectors are the augmented ones.
  const at::Tensor augmented = rerank::Plan("dba:k=3,alpha=1").augment_database(embeddings_tensor(set), search::Metric::Euclidean);
  EXPECT_TRUE(torch::allclose(stored.index->vector(7), augmented[7].unsqueeze(0), 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(augmented[7], embeddings_tensor(set)[7]));
  // Searching needs the same database part; adding unaugmented items is refused.
  pipeline::check_augmentation(folder.string(), stored.manifest.augmentation, rerank::Plan("dba:k=3,alpha=1+aqe"));
  EXPECT_NE(testing::error_of([&] { pipeline::check_augmentation(folder.string(), "dba:k=3,alpha=1", rerank::Plan("aqe")); })
                .find("built with dba:k=3,alpha=1"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] { pipeline::check_augmentation(folder.string(), "", rerank::Plan("dba")); })
                .find("built without it"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] { pipeline::add_to_index_folder(folder, embeddings.string()); }).find("build it again"),
            std::string::npos);
  // Only database methods at build time.
  request.augment = "kreciprocal";
  EXPECT_NE(testing::error_of([&] { pipeline::build_index_folder(request, testing::scratch_path("pipeline", "index_kr")); })
                .find("acts at search time"),
            std::string::npos);
}

TEST(IndexJobs, AddExtendsTheSavedIndexAndWarnsOfAnotherNetwork) {
  const EmbeddingSet first = testing::clustered_set(2, 10, 4, 1.0, 22);
  const EmbeddingSet second = testing::clustered_set(2, 5, 4, 1.0, 23);
  pipeline::IndexBuildRequest request;
  request.embeddings = saved_set("add_first", first).string();
  request.spec = "exact:cosine";
  const fs::path folder = testing::scratch_path("pipeline", "index_add");
  pipeline::build_index_folder(request, folder);
  const pipeline::IndexAddOutcome outcome = pipeline::add_to_index_folder(folder, saved_set("add_second", second).string());
  EXPECT_EQ(outcome.added, 10);
  ASSERT_EQ(outcome.warnings.size(), 1u);  // embedded with another checkpoint
  EXPECT_NE(outcome.warnings[0].find("their distances may not compare"), std::string::npos);
  const search::StoredIndex stored = search::load_index_folder(folder);
  ASSERT_EQ(stored.index->size(), 30);
  EXPECT_EQ(stored.items[25].source, second.items[5].source);
  // Row 25 of the index is row 5 of the second folder: its own best match.
  const at::Tensor row = embeddings_tensor(second).slice(0, 5, 6);
  EXPECT_EQ(stored.index->search(row, 1).ids[0][0].item<int64_t>(), 25);
}

TEST(IndexJobs, RefusedFoldersLeaveTheIndexAsItWas) {
  const EmbeddingSet set = testing::clustered_set(2, 6, 4, 1.0, 24);
  pipeline::IndexBuildRequest request;
  request.embeddings = saved_set("refused_source", set).string();
  const fs::path folder = testing::scratch_path("pipeline", "index_refused");
  pipeline::build_index_folder(request, folder);
  const EmbeddingSet wider = testing::clustered_set(2, 3, 5, 1.0, 25);
  const std::string wide = saved_set("refused_wide", wider).string();
  const std::string error = testing::error_of([&] { pipeline::add_to_index_folder(folder, wide); });
  EXPECT_NE(error.find("embeddings of 5 dimensions, the index holds 4"), std::string::npos) << error;
  EXPECT_EQ(search::load_index_folder(folder).index->size(), 12);

  // Building over an existing index needs `replace`; the hint comes from the caller.
  request.replace_hint = "say so";
  const std::string again = testing::error_of([&] { pipeline::build_index_folder(request, folder); });
  EXPECT_NE(again.find("say so"), std::string::npos) << again;
}

TEST(IndexJobs, InMemoryIndexTakesItsParametersFirst) {
  const EmbeddingSet set = testing::clustered_set(2, 8, 3, 1.0, 26);
  const auto index = pipeline::index_in_memory(set, "exact", search::Metric::Euclidean, c10::kCPU);
  EXPECT_EQ(index->size(), 16);
  const std::string error = testing::error_of(
      [&] { pipeline::index_in_memory(set, "exact", search::Metric::Euclidean, c10::kCPU, {{"nprobe", 4}}); });
  EXPECT_NE(error.find("nprobe"), std::string::npos) << error;  // an exact index has no parameters
}

}  // namespace
}  // namespace imret
