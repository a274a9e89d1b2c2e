// What a service serves (collection.hpp) and how it answers (query_service.hpp),
// without HTTP: embedding folders and index folders, queries by embedding,
// by item and by image, and the errors a request can cause.
#include "imret/serve/collection.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/embedding_set.hpp"
#include "imret/data/image_decode.hpp"
#include "imret/data/png_writer.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/search/index_store.hpp"
#include "imret/serve/query_service.hpp"
#include "imret/serve/request_error.hpp"
#include "support/request_status.hpp"
#include "support/scratch.hpp"

namespace imret::serve {
namespace {

namespace fs = std::filesystem;

// 40 items of 8 dimensions in 4 classes, written as an embedding folder.
fs::path embedding_folder(const std::string& name, const nlohmann::json& meta = {{"classes", {"a", "b", "c", "d"}}}) {
  const fs::path folder = testing::scratch_path("serve", name);
  torch::manual_seed(1);
  const at::Tensor x = torch::randn({40, 8});
  std::vector<EmbeddedItem> items;
  for (int64_t i = 0; i < 40; ++i)
    items.push_back({i, "item" + std::to_string(i), i % 4, std::string(1, static_cast<char>('a' + i % 4)), std::nullopt});
  save_embedding_set(folder, x.data_ptr<float>(), 40, 8, items, meta);
  return folder;
}

using testing::status_of;

TEST(Collection, AnEmbeddingFolderIsSearchedExactlyByEitherMetric) {
  const fs::path folder = embedding_folder("embeddings");
  auto collection = Collection::open(folder);
  EXPECT_EQ(collection->size(), 40);
  EXPECT_EQ(collection->dimension(), 8);
  EXPECT_FALSE(collection->image_queries());  // its meta.json names no network
  EXPECT_NE(collection->network_problem(), "");
  const EmbeddingSet set = load_embedding_set(folder);
  const at::Tensor x = torch::from_blob(const_cast<float*>(set.embeddings.values.data()), {40, 8}).clone();
  for (search::Metric metric : {search::Metric::Euclidean, search::Metric::Cosine}) {
    const auto reference = search::make_index("exact", c10::kCPU, metric);
    reference->add(x);
    const auto expected = reference->search(x.narrow(0, 0, 5), 7);
    const auto got = collection->search(x.narrow(0, 0, 5), 7, metric, {});
    EXPECT_TRUE(torch::equal(got.ids, expected.ids));
    EXPECT_TRUE(torch::allclose(got.scores, expected.scores));
  }
  EXPECT_TRUE(torch::equal(collection->vector(3), x.narrow(0, 3, 1)));
  EXPECT_THROW(collection->vector(40), Error);
  EXPECT_EQ(collection->item(40), nullptr);
  EXPECT_EQ(collection->item(2)->class_name, "c");
  EXPECT_EQ(collection->info()["classes"].size(), 4u);
}

TEST(Collection, AnIndexFolderSearchesByItsOwnMetricOnly) {
  const fs::path source = embedding_folder("for_index");
  const EmbeddingSet set = load_embedding_set(source);
  const at::Tensor x = torch::from_blob(const_cast<float*>(set.embeddings.values.data()), {40, 8}).clone();
  auto index = search::make_index("exact:cosine", c10::kCPU);
  index->add(x);
  const fs::path folder = testing::scratch_path("serve", "index");
  search::IndexManifest manifest;
  manifest.embedding_meta = set.meta;
  search::save_index_folder(folder, *index, manifest, set.items);
  auto collection = Collection::open(folder);
  EXPECT_EQ(collection->default_metric(), search::Metric::Cosine);
  EXPECT_EQ(collection->metrics(), std::vector<search::Metric>{search::Metric::Cosine});
  const auto got = collection->search(x.narrow(0, 0, 3), 5, search::Metric::Cosine, {});
  EXPECT_TRUE(torch::equal(got.ids, index->search(x.narrow(0, 0, 3), 5).ids));
  EXPECT_THROW(collection->search(x.narrow(0, 0, 3), 5, search::Metric::Euclidean, {}), UsageError);
  // An item's vector as the index keeps it: L2-normalised for cosine.
  EXPECT_TRUE(torch::allclose(collection->vector(5), x.narrow(0, 5, 1) / x.narrow(0, 5, 1).norm(), 1e-6, 1e-6));
}

TEST(Collection, FoldersItCannotServeAreNamed) {
  const fs::path empty = testing::scratch_path("serve", "empty_folder");
  fs::create_directories(empty);
  EXPECT_THROW(Collection::open(empty), Error);
  EXPECT_THROW(Collection::open(empty / "missing"), Error);
}

TEST(QueryService, AnswersQueriesByEmbeddingAndItemWithTheirErrors) {
  auto collection = std::shared_ptr<Collection>(Collection::open(embedding_folder("service")));
  auto metrics = std::make_shared<ServiceMetrics>();
  QueryService service(collection, {}, {}, metrics);
  SearchQueries by_item;
  by_item.kind = SearchQueries::Kind::Ids;
  by_item.ids = {6};
  by_item.k = 5;
  const nlohmann::json answer = service.search(by_item);
  EXPECT_EQ(answer["k"], 5);
  EXPECT_EQ(answer["metric"], "euclidean");
  const nlohmann::json& results = answer["queries"][0]["results"];
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[0]["id"], 6);  // an item is its own nearest neighbour
  EXPECT_EQ(results[0]["score"], 0.0);
  EXPECT_EQ(results[0]["same_class"], true);
  for (const auto& hit : results) EXPECT_EQ(hit["same_class"], hit["label"] == 2);

  SearchQueries by_vector;
  const at::Tensor six = collection->vector(6);
  by_vector.embeddings = {std::vector<float>(six.data_ptr<float>(), six.data_ptr<float>() + 8)};
  by_vector.k = 5;
  const nlohmann::json same = service.search(by_vector)["queries"][0]["results"];
  for (size_t r = 0; r < 5; ++r) EXPECT_EQ(same[r]["id"], results[r]["id"]);
  EXPECT_FALSE(same[0].contains("same_class"));  // the query's class is not known

  by_vector.k = 1000000;  // clamped to the collection
  EXPECT_EQ(service.search(by_vector)["queries"][0]["results"].size(), 40u);
  by_vector.embeddings = {{1, 2, 3}};
  EXPECT_EQ(status_of([&] { service.search(by_vector); }), 400);
  by_item.ids = {40};
  EXPECT_EQ(status_of([&] { service.search(by_item); }), 404);
  EXPECT_EQ(status_of([&] { service.item(-1); }), 404);
  EXPECT_EQ(service.item(3)["class"], "d");
  SearchQueries by_image;
  by_image.kind = SearchQueries::Kind::Images;
  by_image.images = {{"x.png", "not an image"}};
  EXPECT_EQ(status_of([&] { service.search(by_image); }), 400);  // no network: image queries are off
}

TEST(QueryService, ImageQueriesAreEmbeddedWithTheFoldersNetwork) {
  // A checkpoint of an untrained ConvNet, and a folder that records it.
  torch::manual_seed(5);
  models::NetworkSpec spec;
  auto network = models::make_network(spec);
  const fs::path checkpoint = testing::scratch_path("serve", "net") / "net.safetensors";
  fs::create_directories(checkpoint.parent_path());
  models::CheckpointInfo info;
  info.spec = spec;
  info.preprocess = {{"mean", {0.5}}, {"std", {0.25}}, {"resize", 0}, {"crop", 0}};
  models::save_checkpoint(checkpoint, *network, info);
  const fs::path folder = testing::scratch_path("serve", "with_network");
  torch::manual_seed(2);
  const at::Tensor x = torch::randn({10, network->embedding_dim()});
  std::vector<EmbeddedItem> items;
  for (int64_t i = 0; i < 10; ++i) items.push_back({i, "i" + std::to_string(i), 0, "a", std::nullopt});
  save_embedding_set(folder, x.data_ptr<float>(), 10, network->embedding_dim(), items,
                     {{"checkpoint", checkpoint.string()}});
  auto collection = std::shared_ptr<Collection>(Collection::open(folder));
  ASSERT_TRUE(collection->image_queries()) << collection->network_problem();

  // A 28 x 28 grey PNG: embedded as (pixels / 255 - 0.5) / 0.25 through the network.
  std::vector<uint8_t> pixels(28 * 28);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 37) % 256);
  const std::string png = data::encode_png(pixels.data(), 28, 28, 1);
  at::Tensor expected_input = torch::from_blob(pixels.data(), {1, 1, 28, 28}, torch::kUInt8).to(torch::kFloat32);
  expected_input = (expected_input / 255.0 - 0.5) / 0.25;
  at::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    collection->network().network->eval();
    expected = collection->network().network->embed(expected_input);
  }
  QueryService service(collection, {}, {}, nullptr);
  SearchQueries by_image;
  by_image.kind = SearchQueries::Kind::Images;
  by_image.images = {{"q.png", png}};
  by_image.k = 10;
  const nlohmann::json answer = service.search(by_image);
  const auto reference = collection->search(expected, 10, search::Metric::Euclidean, {});
  const nlohmann::json& results = answer["queries"][0]["results"];
  ASSERT_EQ(results.size(), 10u);
  for (int64_t r = 0; r < 10; ++r) {
    EXPECT_EQ(results[r]["id"], reference.ids[0][r].item<int64_t>());
    EXPECT_NEAR(results[r]["score"].get<double>(), reference.scores[0][r].item<float>(), 1e-4);
  }
  EXPECT_GE(answer["timings_ms"]["total"].get<double>(), answer["timings_ms"]["search"].get<double>());

  // Over the pixel budget from the header alone: 413, nothing decoded.
  ServiceLimits small;
  small.image_limits.max_pixels = 700;
  QueryService strict(collection, {}, small, nullptr);
  EXPECT_EQ(status_of([&] { strict.search(by_image); }), 413);
  by_image.images = {{"q.png", png.substr(0, png.size() / 2)}};  // truncated
  EXPECT_EQ(status_of([&] { service.search(by_image); }), 400);
}

TEST(PngWriter, DecodesBackToTheSamePixels) {
  std::vector<uint8_t> grey(7 * 5), rgb(7 * 5 * 3);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<uint8_t>(i * 7);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = static_cast<uint8_t>(255 - i);
  const data::RgbImage g = data::decode_png_rgb(reinterpret_cast<const uint8_t*>(data::encode_png(grey.data(), 5, 7, 1).data()),
                                                data::encode_png(grey.data(), 5, 7, 1).size(), {});
  ASSERT_EQ(g.height, 5u);
  ASSERT_EQ(g.width, 7u);
  for (size_t i = 0; i < grey.size(); ++i)
    for (int c = 0; c < 3; ++c) EXPECT_EQ(g.pixels[i * 3 + c], grey[i]);
  const std::string encoded = data::encode_png(rgb.data(), 5, 7, 3);
  const data::RgbImage c = data::decode_png_rgb(reinterpret_cast<const uint8_t*>(encoded.data()), encoded.size(), {});
  EXPECT_EQ(c.pixels, rgb);
  EXPECT_THROW(data::encode_png(rgb.data(), 5, 7, 2), Error);
  EXPECT_THROW(data::encode_png(rgb.data(), 0, 7, 3), Error);
}

}  // namespace
}  // namespace imret::serve
