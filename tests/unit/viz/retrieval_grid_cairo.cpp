// Retrieval grids on real Fashion-MNIST items: the results shown are the
// brute-force top K, the best/worst queries are those of highest/lowest
// average precision, and the pictures are the items' own pixels.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/data/idx.hpp"
#include "imret/viz/item_pictures.hpp"
#include "imret/viz/retrieval_grid.hpp"
#include "support/errors.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using imret::EmbeddedItem;
using imret::EmbeddingSet;

namespace {

fs::path scratch(const std::string& name) { return imret::testing::scratch_path("retrieval_grid_test", name); }

// The first `count` items of a Fashion-MNIST split, embedded as their pixels in [0, 1].
EmbeddingSet pixel_set(const std::string& split, int64_t count) {
  const auto dataset = imret::data::load_mnist_folder(imret::data::kDefaultFashionMnist, split);
  EmbeddingSet set;
  set.embeddings.rows = count;
  set.embeddings.cols = 784;
  for (int64_t i = 0; i < count; ++i) {
    const at::Tensor image = dataset->load(i).reshape({-1}).contiguous();
    set.embeddings.values.insert(set.embeddings.values.end(), image.data_ptr<float>(), image.data_ptr<float>() + 784);
    set.items.push_back({i, dataset->source(i), dataset->label(i), dataset->classes()[dataset->label(i)]});
  }
  set.meta = {{"data", imret::data::kDefaultFashionMnist}, {"split", split}, {"classes", dataset->classes()}};
  return set;
}

double distance(const EmbeddingSet& a, int64_t i, const EmbeddingSet& b, int64_t j) {
  double sum = 0;
  for (int64_t d = 0; d < a.embeddings.cols; ++d) {
    const double diff = a.embeddings.values[i * a.embeddings.cols + d] - b.embeddings.values[j * b.embeddings.cols + d];
    sum += diff * diff;
  }
  return std::sqrt(sum);
}

// Database rows by distance to query q (nearest first), and the query's AP.
std::pair<std::vector<int64_t>, double> brute_force(const EmbeddingSet& queries, int64_t q, const EmbeddingSet& database) {
  std::vector<int64_t> order(database.items.size());
  std::iota(order.begin(), order.end(), 0);
  std::vector<double> d(order.size());
  for (int64_t j : order) d[j] = distance(queries, q, database, j);
  std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return d[x] < d[y]; });
  double hits = 0, sum = 0;
  for (std::size_t r = 0; r < order.size(); ++r) {
    if (database.items[order[r]].label != queries.items[q].label) continue;
    hits += 1;
    sum += hits / static_cast<double>(r + 1);
  }
  return {order, hits > 0 ? sum / hits : NAN};
}

using imret::testing::error_of;

}  // namespace

TEST(RetrievalGrid, ShowsTheBruteForceTopKAndPicksTheBestAndWorstQueriesByAveragePrecision) {
  const EmbeddingSet queries = pixel_set("test", 40), database = pixel_set("train", 300);
  imret::viz::RetrievalGridOptions options;
  options.k = 5;
  options.count = 4;
  options.selections = {"random", "best", "worst", "first"};
  options.metric = imret::search::Metric::Euclidean;
  const fs::path out = scratch("grids");
  const auto grids = imret::viz::write_retrieval_grids(queries, "queries", database, "database", options, out);
  EXPECT_EQ(grids.files.size(), 4u);
  for (const fs::path& file : grids.files) EXPECT_GT(fs::file_size(file), 1000u) << file;
  const nlohmann::json written = nlohmann::json::parse(imret::read_file(out / "grids.json"));
  EXPECT_EQ(written, grids.summary);

  std::vector<double> ap;
  for (int64_t q = 0; q < 40; ++q) ap.push_back(brute_force(queries, q, database).second);
  for (const auto& [selection, shown] : written["selections"].items()) {
    ASSERT_EQ(shown.size(), 4u) << selection;
    for (const auto& entry : shown) {
      const int64_t q = entry["query"];
      const auto [order, query_ap] = brute_force(queries, q, database);
      EXPECT_NEAR(entry["average_precision"].get<double>(), query_ap, 1e-9);
      ASSERT_EQ(entry["results"].size(), 5u);
      for (std::size_t r = 0; r < 5; ++r) {
        const auto& result = entry["results"][r];
        EXPECT_EQ(result["row"].get<int64_t>(), order[r]) << selection << " query " << q << " rank " << r + 1;
        EXPECT_NEAR(result["score"].get<double>(), distance(queries, q, database, order[r]), 1e-3);
        EXPECT_EQ(result["correct"].get<bool>(), database.items[order[r]].label == queries.items[q].label);
        EXPECT_EQ(result["source"], database.items[order[r]].source);
      }
    }
  }
  // best: the four highest APs; worst: the four lowest.
  std::vector<int64_t> rows(40);
  std::iota(rows.begin(), rows.end(), 0);
  std::stable_sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) { return ap[a] > ap[b]; });
  std::vector<int64_t> best, worst;
  for (const auto& e : written["selections"]["best"]) best.push_back(e["query"]);
  for (const auto& e : written["selections"]["worst"]) worst.push_back(e["query"]);
  EXPECT_EQ(best, std::vector<int64_t>(rows.begin(), rows.begin() + 4));
  std::stable_sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) { return ap[a] < ap[b]; });
  EXPECT_EQ(worst, std::vector<int64_t>(rows.begin(), rows.begin() + 4));
  std::vector<int64_t> first;
  for (const auto& e : written["selections"]["first"]) first.push_back(e["query"]);
  EXPECT_EQ(first, (std::vector<int64_t>{0, 1, 2, 3}));
}

TEST(RetrievalGrid, ExcludeSelfNeverShowsAQueryAsItsOwnResult) {
  const EmbeddingSet set = pixel_set("test", 50);
  imret::viz::RetrievalGridOptions options;
  options.k = 3;
  options.count = 5;
  options.selections = {"first"};
  options.exclude_self = true;
  options.metric = imret::search::Metric::Cosine;
  const auto grids = imret::viz::write_retrieval_grids(set, "set", set, "set", options, scratch("self"));
  for (const auto& entry : grids.summary["selections"]["first"]) {
    ASSERT_EQ(entry["results"].size(), 3u);
    for (const auto& result : entry["results"]) EXPECT_NE(result["row"], entry["query"]);
    // Cosine: scores are similarities, best first.
    EXPECT_GE(entry["results"][0]["score"].get<double>(), entry["results"][2]["score"].get<double>());
  }
}

TEST(RetrievalGrid, SelectQueriesIsSeededAndLeavesOutQueriesWithoutRelevantItems) {
  using imret::viz::select_queries;
  const std::vector<double> ap = {0.5, NAN, 0.9, 0.1, 0.9, 0.3};
  EXPECT_EQ(select_queries(ap, "best", 3, 0), (std::vector<int64_t>{2, 4, 0}));  // ties: lower row first
  EXPECT_EQ(select_queries(ap, "worst", 10, 0), (std::vector<int64_t>{3, 5, 0, 2, 4}));
  EXPECT_EQ(select_queries(ap, "first", 2, 0), (std::vector<int64_t>{0, 1}));
  const auto a = select_queries(ap, "random", 4, 1), b = select_queries(ap, "random", 4, 1);
  EXPECT_EQ(a, b);
  EXPECT_EQ(std::set<int64_t>(a.begin(), a.end()).size(), 4u);
  std::vector<double> many(1000, 0.5);
  EXPECT_NE(select_queries(many, "random", 10, 1), select_queries(many, "random", 10, 2));
  EXPECT_THROW(select_queries(ap, "median", 2, 0), imret::UsageError);
}

TEST(RetrievalGrid, PicturesAreTheItemsOwnPixels) {
  const EmbeddingSet set = pixel_set("test", 3);
  const imret::viz::ItemPictures pictures(set, "set");
  const imret::viz::Picture p = pictures.picture(2, 96);  // 28 x 28: never enlarged
  ASSERT_EQ(p.width, 28);
  ASSERT_EQ(p.height, 28);
  ASSERT_EQ(p.channels, 1);
  for (int i = 0; i < 784; ++i) {
    EXPECT_EQ(p.pixels[i], static_cast<int>(std::lround(set.embeddings.values[2 * 784 + i] * 255))) << i;
  }
  const imret::viz::Picture small = pictures.picture(2, 14);  // reduced by area averaging
  ASSERT_EQ(small.width, 14);
  const double mean = (set.embeddings.values[2 * 784] + set.embeddings.values[2 * 784 + 1] +
                       set.embeddings.values[2 * 784 + 28] + set.embeddings.values[2 * 784 + 29]) /
                      4 * 255;
  EXPECT_NEAR(small.pixels[0], mean, 0.51);
}

TEST(RetrievalGrid, ItemsNumberedWithinPartOfTheDataAreFoundByTheirSource) {
  // As `imret demo --quick` embeds a part: items 0, 1 of the set are the data's items 7 and 3.
  const EmbeddingSet all = pixel_set("test", 8);
  EmbeddingSet part = pixel_set("test", 2);
  part.items[0].source = all.items[7].source;
  part.items[1].source = all.items[3].source;
  const imret::viz::ItemPictures pictures(part, "part");
  const imret::viz::Picture p = pictures.picture(0, 96);
  for (int i = 0; i < 784; ++i) {
    ASSERT_EQ(p.pixels[i], static_cast<int>(std::lround(all.embeddings.values[7 * 784 + i] * 255))) << i;
  }
  const imret::viz::Picture q = pictures.picture(1, 96);
  for (int i = 0; i < 784; ++i) {
    ASSERT_EQ(q.pixels[i], static_cast<int>(std::lround(all.embeddings.values[3 * 784 + i] * 255))) << i;
  }
}

TEST(RetrievalGrid, MissingDataOrChangedItemsAreClearErrors) {
  EmbeddingSet set = pixel_set("test", 3);
  EmbeddingSet no_data = set;
  no_data.meta.erase("data");
  EXPECT_NE(error_of([&] { imret::viz::ItemPictures(no_data, "emb/queries"); }).find("emb/queries/meta.json: does not say"),
            std::string::npos);
  EmbeddingSet moved = set;
  moved.meta["data"] = "/nonexistent/fashion";
  EXPECT_NE(error_of([&] { imret::viz::ItemPictures(moved, "emb/queries"); }).find("cannot open the items' data"),
            std::string::npos);
  EmbeddingSet changed = set;
  changed.items[1].source = "elsewhere.png";
  const imret::viz::ItemPictures pictures(changed, "emb/queries");
  EXPECT_NE(error_of([&] { pictures.picture(1, 64); }).find("the data changed since it was embedded"), std::string::npos);
  imret::viz::RetrievalGridOptions options;
  options.k = 0;
  EXPECT_THROW(imret::viz::write_retrieval_grids(set, "q", set, "d", options, scratch("bad")), imret::UsageError);
  options.k = 3;
  options.selections = {"median"};
  EXPECT_THROW(imret::viz::write_retrieval_grids(set, "q", set, "d", options, scratch("bad")), imret::UsageError);
  options.selections = {"first"};
  options.cell_size = 0;
  EXPECT_NE(error_of([&] { imret::viz::write_retrieval_grids(set, "q", set, "d", options, scratch("bad")); })
                .find("cell_size must be 16 to 1024"),
            std::string::npos);
  options.cell_size = 96;
  options.exclude_self = true;
  EXPECT_NE(error_of([&] { imret::viz::write_retrieval_grids(set, "q", set, "d", options, scratch("bad")); })
                .find("exclude_self needs the queries to be the database"),
            std::string::npos);
  options.exclude_self = false;
  EmbeddingSet unlabelled = set;
  unlabelled.items[2].label = -1;
  EXPECT_NE(error_of([&] { imret::viz::write_retrieval_grids(unlabelled, "q", set, "d", options, scratch("bad")); })
                .find("q: item 2 has no label"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(scratch("bad") / "grids.json"));
}
