// search::SearchParams: the map of one call's parameters, the name=value
// parsing the CLI and compare-search use, the error for a name an index
// cannot take, and the exact index's (it takes none; concurrent searches).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>

#include "imret/core/error.hpp"
#include "imret/search/index.hpp"
#include "imret/search/search_params.hpp"
#include "support/errors.hpp"

using imret::search::SearchParams;
using imret::testing::error_of;

TEST(SearchParams, SetKeepsTheFirstPlaceAndTheLastValue) {
  SearchParams params{{"nprobe", 4}, {"efSearch", 64}};
  params.set("nprobe", 16);
  params.set("max_codes", 0);
  ASSERT_EQ(params.entries().size(), 3u);
  EXPECT_EQ(params.entries()[0], (SearchParams::Entry{"nprobe", 16}));
  EXPECT_EQ(params.entries()[2].first, "max_codes");
  EXPECT_EQ(params.get("efSearch"), 64);
  EXPECT_FALSE(params.get("ht").has_value());
  EXPECT_TRUE(params.contains("max_codes"));
  EXPECT_EQ(params.to_string(), "nprobe=16,efSearch=64,max_codes=0");
  EXPECT_TRUE(SearchParams().empty());
  EXPECT_EQ(SearchParams().to_string(), "");
  EXPECT_EQ(SearchParams({{"ht", 2.5}}).to_string(), "ht=2.5");
}

TEST(SearchParams, ParsesNameEqualsNumber) {
  EXPECT_EQ(imret::search::parse_search_parameter("nprobe=16"), (SearchParams::Entry{"nprobe", 16}));
  EXPECT_EQ(imret::search::parse_search_parameter("max_codes=inf").second, std::numeric_limits<double>::infinity());
  EXPECT_EQ(imret::search::parse_search_parameter("ht=1e2").second, 100);
  for (const std::string bad : {"nprobe", "=16", "nprobe=", "nprobe=x", "nprobe=16x", "nprobe=nan", ""})
    EXPECT_EQ(error_of([&] { imret::search::parse_search_parameter(bad); }),
              "search parameter '" + bad + "': expected name=number, e.g. nprobe=16");
  EXPECT_THROW(imret::search::parse_search_parameter("nprobe"), imret::UsageError);
}

TEST(SearchParams, ParsesAList) {
  const SearchParams params = imret::search::parse_search_parameters("nprobe=16,efSearch=64,nprobe=8");
  EXPECT_EQ(params.to_string(), "nprobe=8,efSearch=64");
  for (const std::string bad : {"", "nprobe=16,", "nprobe=16,,ht=2", "nprobe:16"})
    EXPECT_EQ(error_of([&] { imret::search::parse_search_parameters(bad); }),
              "search parameters '" + bad + "': expected name=number[,name=number], e.g. nprobe=16");
}

TEST(SearchParams, UnknownNamesNameTheIndexAndTheValidOnes) {
  const SearchParams params{{"nprobe", 4}, {"efSearch", 8}};
  EXPECT_NO_THROW(imret::search::check_search_params("faiss:IVF16_HNSW8,Flat", params, {"nprobe", "efSearch"}));
  EXPECT_EQ(error_of([&] { imret::search::check_search_params("faiss:HNSW32", params, {"efSearch"}); }),
            "faiss:HNSW32 has no query-time parameter 'nprobe' (valid: efSearch)");
  EXPECT_EQ(error_of([&] { imret::search::check_search_params("faiss:IVF8,Flat", params, {"nprobe", "max_codes"}); }),
            "faiss:IVF8,Flat has no query-time parameter 'efSearch' (valid: nprobe, max_codes)");
  EXPECT_EQ(error_of([&] { imret::search::check_search_params("faiss:Flat", params, {}); }),
            "faiss:Flat has no query-time parameter 'nprobe' (it takes none)");
  EXPECT_EQ(error_of([&] {
              imret::search::check_search_params("faiss:HNSW32", {{"efConstruction", 80}}, {"efSearch"});
            }),
            "faiss:HNSW32: efConstruction is a build-time parameter; a search cannot take it");
  EXPECT_THROW(imret::search::check_search_params("faiss:Flat", params, {}), imret::UsageError);
  EXPECT_TRUE(imret::search::is_build_parameter("efConstruction"));
  EXPECT_FALSE(imret::search::is_build_parameter("efSearch"));
  const auto split = imret::search::split_build_parameters({{"efSearch", 64}, {"efConstruction", 80}, {"nprobe", 2}});
  EXPECT_EQ(split.build.to_string(), "efConstruction=80");
  EXPECT_EQ(split.query.to_string(), "efSearch=64,nprobe=2");
}

TEST(SearchParams, TheExactIndexTakesNone) {
  torch::manual_seed(2);
  auto index = imret::search::make_index("exact", torch::kCPU);
  index->add(torch::randn({50, 4}));
  const auto queries = torch::randn({3, 4});
  EXPECT_TRUE(torch::equal(index->search(queries, 5, {}).ids, index->search(queries, 5).ids));
  EXPECT_EQ(error_of([&] { index->search(queries, 5, {{"nprobe", 4}}); }),
            "exact:l2 has no query-time parameter 'nprobe' (it takes none)");
  EXPECT_EQ(error_of([&] { index->range_search(queries, 1.0, {{"efSearch", 4}}); }),
            "exact:l2 has no query-time parameter 'efSearch' (it takes none)");
}

TEST(SearchParams, ConcurrentExactSearchesGetTheirOwnResults) {
  // Search is const: threads searching one index with different queries and
  // k each get what a search alone gives.
  torch::manual_seed(3);
  auto index = imret::search::make_index("exact:cosine", torch::kCPU);
  index->add(torch::randn({2000, 16}));
  std::vector<at::Tensor> queries;
  std::vector<imret::search::SearchResult> alone;
  for (int t = 0; t < 4; ++t) {
    queries.push_back(torch::randn({40, 16}));
    alone.push_back(index->search(queries[t], 5 + t));
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const auto r = index->search(queries[t], 5 + t);
        if (!torch::equal(r.ids, alone[t].ids) || !torch::equal(r.scores, alone[t].scores)) ++mismatches[t];
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}
