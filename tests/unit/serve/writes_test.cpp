// Writes to a served index folder (QueryService::add_items / remove_item):
// off unless allowed, saved before they answer (a reopened folder holds
// them), seen by the next search, refused where they cannot work, and safe
// beside concurrent searches. How add requests are read (new_items.hpp).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <thread>

#include "imret/core/embedding_set.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/search/index_store.hpp"
#include "imret/serve/collection.hpp"
#include "imret/serve/new_items.hpp"
#include "imret/serve/query_service.hpp"
#include "imret/serve/request_error.hpp"
#include "support/request_status.hpp"
#include "support/scratch.hpp"

namespace imret::serve {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kClasses = {"a", "b", "c"};

// 30 items of 8 dimensions in 3 classes: an exact Euclidean index folder.
fs::path index_folder(const std::string& name) {
  const fs::path folder = testing::scratch_path("serve_writes", name);
  torch::manual_seed(11);
  const at::Tensor x = torch::randn({30, 8});
  auto index = search::make_index("exact:euclidean", c10::kCPU);
  index->add(x);
  std::vector<EmbeddedItem> items;
  for (int64_t i = 0; i < 30; ++i)
    items.push_back({i, "i" + std::to_string(i), i % 3, kClasses[static_cast<size_t>(i % 3)], std::nullopt});
  search::IndexManifest manifest;
  manifest.embedding_meta = {{"classes", kClasses}};
  search::save_index_folder(folder, *index, manifest, items);
  return folder;
}

using testing::status_of;

NewItems embedding_item(std::vector<float> row, std::optional<std::string> class_name = std::nullopt) {
  NewItems items;
  items.content.kind = SearchQueries::Kind::Embeddings;
  items.content.embeddings = {std::move(row)};
  items.class_name = std::move(class_name);
  return items;
}

SearchQueries by_embedding(std::vector<float> row, int64_t k) {
  SearchQueries q;
  q.embeddings = {std::move(row)};
  q.k = k;
  return q;
}

TEST(ServiceWrites, AreOffUnlessAllowed) {
  auto collection = std::shared_ptr<Collection>(Collection::open(index_folder("off")));
  QueryService service(collection, {}, {}, nullptr);
  EXPECT_EQ(status_of([&] { service.add_items(embedding_item(std::vector<float>(8, 0.f))); }), 403);
  EXPECT_EQ(status_of([&] { service.remove_item(1); }), 403);
  EXPECT_EQ(collection->size(), 30);
}

TEST(ServiceWrites, AddedItemsAreSearchedAndSavedRemovedOnesGone) {
  const fs::path folder = index_folder("add_remove");
  auto collection = std::shared_ptr<Collection>(Collection::open(folder));
  QueryService service(collection, {}, {}, nullptr, /*allow_writes=*/true);
  const std::vector<float> row = {9, 9, 9, 9, 9, 9, 9, 9};  // far from every randn row
  const nlohmann::json added = service.add_items(embedding_item(row, "b"));
  ASSERT_EQ(added["added"].size(), 1u);
  EXPECT_EQ(added["added"][0]["id"], 30);
  EXPECT_EQ(added["added"][0]["label"], 1);
  EXPECT_EQ(added["vectors"], 31);
  const nlohmann::json hits = service.search(by_embedding(row, 3))["queries"][0]["results"];
  EXPECT_EQ(hits[0]["id"], 30);
  EXPECT_EQ(hits[0]["score"], 0.0);
  EXPECT_EQ(hits[0]["class"], "b");

  // Saved: a fresh open of the folder holds it.
  {
    auto reopened = Collection::open(folder);
    ASSERT_EQ(reopened->size(), 31);
    EXPECT_EQ(reopened->item(30)->label, 1);
    EXPECT_TRUE(torch::equal(reopened->vector(30), torch::tensor(row).view({1, 8})));
  }
  // Removing item 4: item 5 becomes item 4, on disk too.
  const nlohmann::json removed = service.remove_item(4);
  EXPECT_EQ(removed["vectors"], 30);
  EXPECT_EQ(service.item(4)["path"], "i5");
  EXPECT_EQ(status_of([&] { service.remove_item(30); }), 404);
  auto reopened = Collection::open(folder);
  ASSERT_EQ(reopened->size(), 30);
  EXPECT_EQ(reopened->item(4)->source, "i5");
  EXPECT_EQ(reopened->item(29)->label, 1);  // the added one moved down too
  EXPECT_TRUE(torch::equal(reopened->vector(3), collection->vector(3)));
}

TEST(ServiceWrites, BadLabelsAndVectorsChangeNothing) {
  const fs::path folder = index_folder("bad");
  auto collection = std::shared_ptr<Collection>(Collection::open(folder));
  QueryService service(collection, {}, {}, nullptr, true);
  EXPECT_EQ(status_of([&] { service.add_items(embedding_item(std::vector<float>(8, 1.f), "zebra")); }), 400);
  EXPECT_EQ(status_of([&] { service.add_items(embedding_item(std::vector<float>(7, 1.f))); }), 400);
  NewItems wrong_label = embedding_item(std::vector<float>(8, 1.f));
  wrong_label.label = 3;
  EXPECT_EQ(status_of([&] { service.add_items(wrong_label); }), 400);
  NewItems image = embedding_item({});
  image.content.kind = SearchQueries::Kind::Images;
  image.content.images = {{"x.png", "png?"}};
  EXPECT_EQ(status_of([&] { service.add_items(image); }), 409);  // no network recorded: images cannot be embedded
  EXPECT_EQ(collection->size(), 30);
  EXPECT_EQ(Collection::open(folder)->size(), 30);
}

TEST(ServiceWrites, EmbeddingFoldersAreNotWritten) {
  const fs::path folder = testing::scratch_path("serve_writes", "embeddings");
  torch::manual_seed(2);
  const at::Tensor x = torch::randn({5, 4});
  std::vector<EmbeddedItem> items;
  for (int64_t i = 0; i < 5; ++i) items.push_back({i, "e" + std::to_string(i), 0, "", std::nullopt});
  save_embedding_set(folder, x.data_ptr<float>(), 5, 4, items, nlohmann::json::object());
  auto collection = std::shared_ptr<Collection>(Collection::open(folder));
  EXPECT_NE(collection->write_problem(), "");
  EXPECT_THROW(QueryService(collection, {}, {}, nullptr, true), SettingError);
}

TEST(ServiceWrites, SearchesStayWholeWhileItemsComeAndGo) {
  auto collection = std::shared_ptr<Collection>(Collection::open(index_folder("concurrent")));
  QueryService service(collection, {}, {}, nullptr, true);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, answered{0};
  std::vector<std::thread> searchers;
  for (int t = 0; t < 3; ++t)
    searchers.emplace_back([&, t] {
      const std::vector<float> row(8, static_cast<float>(t) * 0.1f);
      while (!done.load()) {
        const nlohmann::json answer = service.search(by_embedding(row, 40));
        const nlohmann::json& hits = answer["queries"][0]["results"];
        // Every hit names an item that existed when it was found (every item
        // has a class), the ranks run 1..n, and k is never short.
        if (hits.size() < 30) ++bad;  // 30 or 31 items at any moment
        for (size_t r = 0; r < hits.size(); ++r)
          if (hits[r]["rank"] != static_cast<int64_t>(r + 1) || hits[r]["class"].get<std::string>().empty()) ++bad;
        ++answered;
      }
    });
  for (int i = 0; i < 6; ++i) {
    service.add_items(embedding_item(std::vector<float>(8, static_cast<float>(i)), "c"));
    service.remove_item(0);
  }
  done = true;
  for (std::thread& t : searchers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GT(answered.load(), 0);
  EXPECT_EQ(collection->size(), 30);
}

TEST(NewItems, LabelsComeFromTheUrlTheFormOrTheJson) {
  RawSearchRequest json;
  json.content_type = "application/json";
  json.body = R"({"embedding": [1, 2], "class": "b"})";
  NewItems read = read_new_items(json, 8);
  EXPECT_EQ(read.content.kind, SearchQueries::Kind::Embeddings);
  EXPECT_EQ(read.class_name, "b");
  EXPECT_EQ(resolve_label(read, kClasses), std::make_pair(int64_t{1}, std::string("b")));

  RawSearchRequest upload;
  upload.files = {{"cat.png", "bytes"}};
  upload.form = {{"label", "2"}};
  read = read_new_items(upload, 8);
  EXPECT_EQ(read.content.kind, SearchQueries::Kind::Images);
  EXPECT_EQ(resolve_label(read, kClasses), std::make_pair(int64_t{2}, std::string("c")));

  RawSearchRequest raw;
  raw.content_type = "image/png";
  raw.body = "bytes";
  raw.url = {{"label", "0"}, {"class", "a"}};
  EXPECT_EQ(resolve_label(read_new_items(raw, 8), kClasses), std::make_pair(int64_t{0}, std::string("a")));
  raw.url = {{"label", "1"}, {"class", "a"}};  // disagree
  EXPECT_THROW(resolve_label(read_new_items(raw, 8), kClasses), RequestError);
  raw.url = {{"label", "x"}};
  EXPECT_THROW(read_new_items(raw, 8), RequestError);
  raw.url = {{"k", "3"}};  // a search setting
  EXPECT_THROW(read_new_items(raw, 8), RequestError);
  json.body = R"({"id": 3})";
  EXPECT_THROW(read_new_items(json, 8), RequestError);
  json.body = R"({"embedding": [1], "label": "2"})";
  EXPECT_THROW(read_new_items(json, 8), RequestError);
  // Without classes any label >= -1 and any name.
  NewItems free;
  free.label = 7;
  free.class_name = "mine";
  EXPECT_EQ(resolve_label(free, {}), std::make_pair(int64_t{7}, std::string("mine")));
  free.label = -2;
  EXPECT_THROW(resolve_label(free, {}), RequestError);
}

}  // namespace
}  // namespace imret::serve
