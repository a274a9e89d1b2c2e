// Saved index folders (exact backend: works in every build): round trip,
// folder replacement, range search and errors on broken or mismatched files.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/search/exact_index.hpp"
#include "imret/search/index_store.hpp"
#include "support/scratch.hpp"

using imret::search::Metric;

namespace {

std::filesystem::path scratch(const std::string& name) { return imret::testing::scratch_path("index_store", name); }

std::vector<imret::EmbeddedItem> items(int64_t n) {
  std::vector<imret::EmbeddedItem> result;
  for (int64_t i = 0; i < n; ++i) result.push_back({i, "img" + std::to_string(i) + ".png", i % 3, "c" + std::to_string(i % 3)});
  return result;
}

void expect_error(const std::filesystem::path& folder, const std::string& words) {
  try {
    imret::search::load_index_folder(folder);
    FAIL() << folder << " loaded";
  } catch (const imret::Error& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(IndexStore, ExactRoundTripReplacesTheFolder) {
  torch::manual_seed(1);
  const auto database = torch::randn({40, 6}), queries = torch::randn({5, 6});
  imret::search::ExactIndex index(Metric::Cosine);
  index.add(database);
  imret::search::IndexManifest manifest;
  manifest.sources = {"/data/embeddings/database"};
  manifest.embedding_meta = {{"checkpoint", "/runs/a/best.safetensors"}};
  const auto folder = scratch("exact");
  imret::search::save_index_folder(folder, index, manifest, items(40));
  // Saved again over the first one: the folder is replaced, nothing else is left next to it.
  index.add(torch::randn({2, 6}));
  imret::search::save_index_folder(folder, index, manifest, items(42));
  EXPECT_EQ(imret::testing::count_entries(folder.parent_path()), 1);
  EXPECT_EQ(imret::testing::count_entries(folder), 4);  // manifest.json, vectors.npy, items.jsonl, .imret-folder.json

  const auto stored = imret::search::load_index_folder(folder);
  EXPECT_EQ(stored.manifest.backend, "exact:cosine");
  EXPECT_EQ(stored.manifest.metric, Metric::Cosine);
  EXPECT_EQ(stored.manifest.count, 42);
  EXPECT_EQ(stored.manifest.dimension, 6);
  EXPECT_EQ(stored.manifest.index_file, "vectors.npy");
  EXPECT_EQ(stored.manifest.sources, manifest.sources);
  EXPECT_EQ(stored.manifest.embedding_meta, manifest.embedding_meta);
  ASSERT_EQ(stored.items.size(), 42u);
  EXPECT_EQ(stored.items[7].source, "img7.png");
  EXPECT_EQ(stored.items[7].label, 1);
  const auto before = index.search(queries, 4), after = stored.index->search(queries, 4);
  EXPECT_TRUE(torch::equal(before.ids, after.ids));
  EXPECT_TRUE(torch::allclose(before.scores, after.scores, 1e-6, 1e-6));
}

TEST(IndexStore, ExactRangeSearchMatchesBruteForce) {
  torch::manual_seed(2);
  const auto database = torch::randn({300, 4}), queries = torch::randn({20, 4});
  imret::search::ExactIndex index(Metric::Euclidean, torch::kCPU, /*block_size=*/7);
  index.add(database.narrow(0, 0, 100));
  index.add(database.narrow(0, 100, 200));
  const auto r = index.range_search(queries, 1.0);
  const auto distances = torch::cdist(queries, database);
  ASSERT_EQ(r.lims.size(0), 21);
  for (int64_t q = 0; q < 20; ++q) {
    const int64_t begin = r.lims[q].item<int64_t>(), end = r.lims[q + 1].item<int64_t>();
    const auto expected = distances[q].lt(1.0).nonzero().flatten();
    ASSERT_EQ(end - begin, expected.size(0)) << q;
    const auto ids = r.ids.narrow(0, begin, end - begin);
    EXPECT_TRUE(torch::equal(std::get<0>(ids.sort()), expected));
    const auto scores = r.scores.narrow(0, begin, end - begin);
    EXPECT_TRUE(torch::allclose(scores, distances[q].index_select(0, ids), 1e-4, 1e-4));
    if (end - begin > 1) EXPECT_TRUE((scores.narrow(0, 1, end - begin - 1) >= scores.narrow(0, 0, end - begin - 1)).all().item<bool>());
  }
  EXPECT_THROW(index.range_search(queries, 0.0), imret::Error);
}

TEST(IndexStore, BrokenOrMismatchedFilesGetClearErrors) {
  imret::search::ExactIndex index(Metric::Euclidean);
  index.add(torch::randn({10, 3}));
  const auto good = scratch("good");
  imret::search::save_index_folder(good, index, {}, items(10));
  EXPECT_THROW(imret::search::save_index_folder(scratch("wrong_items"), index, {}, items(9)), imret::Error);

  auto copy = [&](const std::string& name) {
    const auto folder = scratch(name);
    std::filesystem::remove_all(folder);
    std::filesystem::copy(good, folder);
    return folder;
  };
  expect_error(scratch("nowhere"), "not an index folder");
  {
    const auto folder = copy("malformed");
    imret::write_file_atomic(folder / "manifest.json", "{\"format\": \"imret-index-1\", ");
    expect_error(folder, "malformed JSON");
  }
  {
    const auto folder = copy("count");
    auto json = nlohmann::json::parse(imret::read_file(folder / "manifest.json"));
    json["count"] = 11;
    imret::write_file_atomic(folder / "manifest.json", json.dump());
    expect_error(folder, "manifest.json says 11");
  }
  {
    const auto folder = copy("missing_key");
    auto json = nlohmann::json::parse(imret::read_file(folder / "manifest.json"));
    json.erase("backend");
    imret::write_file_atomic(folder / "manifest.json", json.dump());
    expect_error(folder, "\"backend\"");
  }
  {
    const auto folder = copy("escape");
    auto json = nlohmann::json::parse(imret::read_file(folder / "manifest.json"));
    json["index_file"] = "../good/vectors.npy";
    imret::write_file_atomic(folder / "manifest.json", json.dump());
    expect_error(folder, "not a file name inside");
  }
  {
    const auto folder = copy("truncated");
    std::filesystem::resize_file(folder / "vectors.npy", std::filesystem::file_size(folder / "vectors.npy") - 20);
    expect_error(folder, "vectors.npy");
  }
  {
    const auto folder = copy("items");
    imret::write_file_atomic(folder / "items.jsonl", imret::items_jsonl(items(8)));
    expect_error(folder, "8 items");
  }
}

TEST(IndexManifest, CountsMustBeIntegersInRange) {
  // Found by fuzz/index_manifest_fuzzer: get<int64_t> of 1e30 was undefined behaviour.
  nlohmann::json json = {{"format", "imret-index-1"}, {"backend", "exact:l2"},   {"metric", "euclidean"},
                         {"dimension", 4},            {"count", 0},              {"index_file", "vectors.npy"},
                         {"items_file", "items.jsonl"}, {"parameters", nlohmann::json::object()}};
  EXPECT_EQ(imret::search::IndexManifest::from_json(json, "m").dimension, 4);
  for (const auto& [key, value] : std::vector<std::pair<std::string, nlohmann::json>>{
           {"dimension", 1e30}, {"count", -1}, {"count", 2.5}, {"trained_on", 1e300}, {"dimension", "4"}}) {
    nlohmann::json bad = json;
    bad[key] = value;
    try {
      imret::search::IndexManifest::from_json(bad, "manifest.json");
      ADD_FAILURE() << key << " = " << value.dump() << " was accepted";
    } catch (const imret::Error& e) {
      EXPECT_NE(std::string(e.what()).find("manifest.json: \"" + key + "\" must be an integer"), std::string::npos)
          << e.what();
    }
  }
}
