// pipeline::top_k_hits / range_hits / hits_json / load_queries: hits name
// the database items of the ids, same_class compares labels, and the JSON
// has the fields `imret search --json` documents.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/pipeline/query.hpp"
#include "support/errors.hpp"

namespace imret {
namespace {

std::vector<EmbeddedItem> items(const std::vector<int64_t>& labels) {
  std::vector<EmbeddedItem> out;
  for (int64_t label : labels)
    out.push_back({static_cast<int64_t>(out.size()), "file" + std::to_string(out.size()), label,
                   label >= 0 ? "class " + std::to_string(label) : "", std::nullopt});
  return out;
}

TEST(QueryHits, TopKHitsNameTheirItemsAndStopAtPadding) {
  const auto database = items({0, 1, 1, 2});
  const auto queries = items({1, -1, 0});
  search::SearchResult result{torch::tensor({{2, 0, 1}, {3, -1, -1}, {0, 3, 2}}, torch::kLong),
                              torch::tensor({{0.1f, 0.2f, 0.3f}, {0.5f, INFINITY, INFINITY}, {0.0f, 1.0f, 2.0f}}),
                              search::Metric::Euclidean};
  const auto hits = pipeline::top_k_hits(result, queries, 2, database);  // the first two queries
  ASSERT_EQ(hits.size(), 2u);
  ASSERT_EQ(hits[0].hits.size(), 3u);
  EXPECT_EQ(hits[0].hits[0].item->source, "file2");
  EXPECT_TRUE(hits[0].hits[0].same_class);    // label 1 = 1
  EXPECT_FALSE(hits[0].hits[1].same_class);   // label 0
  EXPECT_EQ(hits[0].hits[2].rank, 3);
  ASSERT_EQ(hits[1].hits.size(), 1u);          // padding left out
  EXPECT_FALSE(hits[1].hits[0].same_class);   // an unlabelled query matches nothing

  const nlohmann::json json = pipeline::hits_json(hits, result.metric);
  EXPECT_EQ(json[0]["source"], "file0");
  EXPECT_EQ(json[0]["results"][0]["id"], 2);
  EXPECT_FLOAT_EQ(json[0]["results"][0]["distance"].get<float>(), 0.1f);
  EXPECT_EQ(json[0]["results"][0]["class"], "class 1");
  EXPECT_EQ(json[0]["results"][0]["same_class"], true);
}

TEST(QueryHits, RangeHitsFollowTheLimits) {
  const auto database = items({0, 1, 0});
  const auto queries = items({0, 1});
  search::RangeResult result{torch::tensor({0, 2, 2}, torch::kLong), torch::tensor({2, 0}, torch::kLong),
                             torch::tensor({0.9f, 0.8f}), search::Metric::Cosine};
  const auto hits = pipeline::range_hits(result, queries, database);
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].hits.size(), 2u);
  EXPECT_TRUE(hits[1].hits.empty());
  EXPECT_EQ(pipeline::hits_json(hits, result.metric)[0]["results"][1]["similarity"].get<float>(), 0.8f);
}

TEST(QueryHits, AnIdWithoutItemIsAnError) {
  const auto database = items({0});
  const auto queries = items({0});
  search::SearchResult result{torch::tensor({{5}}, torch::kLong), torch::tensor({{0.1f}}), search::Metric::Euclidean};
  const std::string error = testing::error_of([&] { pipeline::top_k_hits(result, queries, 1, database); });
  EXPECT_NE(error.find("search result id 5 has no item (the index holds 1)"), std::string::npos) << error;
}

TEST(QuerySource, NeedsExactlyOneSource) {
  for (const pipeline::QuerySource& source :
       {pipeline::QuerySource{}, pipeline::QuerySource{"folder", {"a.png"}, ""}}) {
    const std::string error = testing::error_of([&] { pipeline::load_queries(source, {}); });
    EXPECT_EQ(error.rfind("give either the queries", 0), 0u) << error;
  }
  const std::string error =
      testing::error_of([] { pipeline::load_queries({"", {"a.png"}, ""}, nlohmann::json::object()); });
  EXPECT_NE(error.find("does not name the network"), std::string::npos) << error;
}

}  // namespace
}  // namespace imret
