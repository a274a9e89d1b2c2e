// Per-call search parameters on FAISS indexes. The reference for a per-call
// value is FAISS's own search with that value set on a copy of the index (a
// loaded copy with the saved parameter, which faiss::ParameterSpace sets on
// the FAISS object). Threads searching ONE index with different nprobe /
// efSearch values at once must each get their reference results; the values
// are chosen so that their results differ, so a value leaking from one
// thread's call into another's would show.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <thread>

#include "imret/core/error.hpp"
#include "imret/search/faiss_index.hpp"
#include "imret/search/faiss_search.hpp"
#include "imret/search/index.hpp"
#include "support/errors.hpp"
#include "support/scratch.hpp"

#include <faiss/index_factory.h>

using imret::search::Index;
using imret::search::Metric;
using imret::search::SearchParams;
using imret::search::SearchResult;
using imret::testing::error_of;

namespace {

std::unique_ptr<Index> built(const std::string& spec, const at::Tensor& database, Metric metric = Metric::Euclidean,
                             const SearchParams& saved = {}) {
  auto index = imret::search::make_index(spec, torch::kCPU, metric);
  for (const auto& [name, value] : saved.entries()) index->set_parameter(name, value);
  if (index->needs_training()) index->train(database);
  index->add(database);
  return index;
}

// Clustered data, as embeddings are: 40 centres, small spread.
at::Tensor clustered(int64_t n, int64_t d, uint64_t seed) {
  torch::manual_seed(static_cast<int64_t>(seed));
  const auto centres = torch::randn({40, d}) * 3;
  return centres.index_select(0, torch::randint(40, {n}, torch::kLong)) + torch::randn({n, d});
}

// A copy of `index` (saved and loaded) with `name` = `value` set on its FAISS
// object: FAISS's own search with that value.
std::unique_ptr<Index> copy_with(const Index& index, const std::string& name, double value) {
  const auto file = imret::testing::scratch_path("search_params", "copy.faiss");
  index.save(file);
  auto copy = imret::search::load_index(index.spec(), index.metric(), file, torch::kCPU);
  copy->set_parameter(name, value);
  return copy;
}

bool same(const SearchResult& a, const SearchResult& b) {
  return torch::equal(a.ids, b.ids) && torch::equal(a.scores, b.scores);
}

bool same(const imret::search::RangeResult& a, const imret::search::RangeResult& b) {
  return torch::equal(a.lims, b.lims) && torch::equal(a.ids, b.ids) && torch::equal(a.scores, b.scores);
}

// `threads` threads search `index` `rounds` times each; thread t's call i
// takes values[(t + i) % values.size()] of `name`, so that at any moment the
// threads use different values. Returns the calls whose results differ from
// `expected` (one per value) and the errors.
int concurrent_mismatches(const Index& index, const at::Tensor& queries, int64_t k, const std::string& name,
                          const std::vector<double>& values, const std::vector<SearchResult>& expected,
                          int threads = 4, int rounds = 12) {
  std::atomic<int> mismatches{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        const size_t v = static_cast<size_t>(t + i) % values.size();
        try {
          if (!same(index.search(queries, k, {{name, values[v]}}), expected[v])) ++mismatches;
        } catch (const std::exception&) {
          ++mismatches;
        }
      }
    });
  for (auto& thread : pool) thread.join();
  return mismatches;
}

// The results for each value of `name`, checked against FAISS with the value
// set on a copy, and pairwise different (else the concurrent test could not fail).
std::vector<SearchResult> references(const Index& index, const at::Tensor& queries, int64_t k, const std::string& name,
                                     const std::vector<double>& values) {
  std::vector<SearchResult> results;
  for (double value : values) {
    results.push_back(index.search(queries, k, {{name, value}}));
    EXPECT_TRUE(same(results.back(), copy_with(index, name, value)->search(queries, k)))
        << index.spec() << " " << name << "=" << value;
  }
  for (size_t a = 0; a < results.size(); ++a)
    for (size_t b = a + 1; b < results.size(); ++b)
      EXPECT_FALSE(torch::equal(results[a].ids, results[b].ids)) << name << " " << values[a] << " vs " << values[b];
  return results;
}

}  // namespace

TEST(FaissSearchParams, ConcurrentIvfSearchesWithDifferentNprobe) {
  // Unstructured data: a query's neighbours spread over many lists, so every
  // nprobe finds others.
  torch::manual_seed(21);
  const auto database = torch::randn({6000, 16}), queries = torch::randn({200, 16});
  auto ivf = built("faiss:IVF64,Flat", database, Metric::Euclidean, {{"nprobe", 3}});
  const std::vector<double> nprobes{1, 4, 16, 64};
  const auto expected = references(*ivf, queries, 10, "nprobe", nprobes);
  EXPECT_EQ(concurrent_mismatches(*ivf, queries, 10, "nprobe", nprobes, expected), 0);
}

TEST(FaissSearchParams, ConcurrentHnswSearchesWithDifferentEfSearch) {
  // Unstructured data: HNSW's recall grows with efSearch, so every value
  // gives other neighbours. Values above the index's own efSearch (16 here)
  // are those FAISS 1.7.3's per-call parameters get wrong (its candidate list
  // keeps the index's size).
  torch::manual_seed(22);
  const auto database = torch::randn({4000, 32}), queries = torch::randn({150, 32});
  for (Metric metric : {Metric::Euclidean, Metric::Cosine}) {
    auto hnsw = built("faiss:HNSW8", database, metric);
    const std::vector<double> efs{4, 16, 48, 300};
    const auto expected = references(*hnsw, queries, 10, "efSearch", efs);
    EXPECT_EQ(concurrent_mismatches(*hnsw, queries, 10, "efSearch", efs, expected), 0);
  }
}

TEST(FaissSearchParams, PerCallValuesOverrideTheSavedOneWithoutChangingIt) {
  torch::manual_seed(23);
  const auto database = torch::randn({4000, 16}), queries = torch::randn({100, 16});
  auto ivf = built("faiss:IVF32,Flat", database, Metric::Euclidean, {{"nprobe", 2}});
  const SearchResult saved = ivf->search(queries, 10);
  const SearchResult all_lists = ivf->search(queries, 10, {{"nprobe", 32}});
  EXPECT_TRUE(same(saved, copy_with(*ivf, "nprobe", 2)->search(queries, 10)));
  EXPECT_TRUE(same(all_lists, copy_with(*ivf, "nprobe", 32)->search(queries, 10)));
  EXPECT_FALSE(torch::equal(saved.ids, all_lists.ids));
  EXPECT_TRUE(same(ivf->search(queries, 10), saved));  // the default is still 2
  ASSERT_EQ(ivf->parameters().size(), 1u);
  EXPECT_EQ(ivf->parameters()[0], (std::pair<std::string, double>{"nprobe", 2}));
  EXPECT_NE(ivf->describe().find("nprobe 2"), std::string::npos) << ivf->describe();
  // max_codes 0 is no limit; a limit changes the result.
  EXPECT_TRUE(same(ivf->search(queries, 10, {{"nprobe", 32}, {"max_codes", 0}}), all_lists));
  EXPECT_TRUE(same(ivf->search(queries, 10, {{"max_codes", 50}, {"nprobe", 32}}),
                   copy_with(*copy_with(*ivf, "nprobe", 32), "max_codes", 50)->search(queries, 10)));
  EXPECT_FALSE(torch::equal(ivf->search(queries, 10, {{"nprobe", 32}, {"max_codes", 50}}).ids, all_lists.ids));
}

TEST(FaissSearchParams, RangeSearchTakesThem) {
  const auto database = clustered(4000, 8, 24);
  const auto queries = database.narrow(0, 40, 40) + 0.1 * torch::randn({40, 8});
  auto ivf = built("faiss:IVF32,Flat", database);
  const double radius = 2.0;
  const auto one_list = ivf->range_search(queries, radius);  // FAISS's default nprobe 1
  const auto every_list = ivf->range_search(queries, radius, {{"nprobe", 32}});
  EXPECT_TRUE(same(every_list, copy_with(*ivf, "nprobe", 32)->range_search(queries, radius)));
  EXPECT_LT(one_list.ids.size(0), every_list.ids.size(0));
  EXPECT_TRUE(same(ivf->range_search(queries, radius), one_list));
}

TEST(FaissSearchParams, IvfInsideAPreTransform) {
  // OPQ / PCA wrap the IVF index in an IndexPreTransform: its parameters go
  // inside FAISS's SearchParametersPreTransform.
  const auto all = clustered(5100, 16, 25);
  const auto database = all.narrow(0, 0, 5000), queries = all.narrow(0, 5000, 100);
  std::unique_ptr<Index> opq;
  for (const std::string spec : {"faiss:PCA8,IVF32,Flat", "faiss:OPQ4,IVF32,PQ4"}) {
    auto index = built(spec, database);
    const SearchResult one = index->search(queries, 10);
    const SearchResult eight = index->search(queries, 10, {{"nprobe", 8}});
    EXPECT_TRUE(same(eight, copy_with(*index, "nprobe", 8)->search(queries, 10))) << spec;
    EXPECT_FALSE(torch::equal(one.ids, eight.ids)) << spec;
    EXPECT_TRUE(same(index->search(queries, 10), one)) << spec;
    opq = std::move(index);
  }
  EXPECT_EQ(error_of([&] { opq->search(queries, 10, {{"efSearch", 8}}); }),
            "faiss:OPQ4,IVF32,PQ4 has no query-time parameter 'efSearch' (valid: nprobe, max_codes)");
  // FAISS 1.7.3's IVF-PQ scanner reads the polysemous threshold from the index, never from the call.
  EXPECT_EQ(error_of([&] { opq->search(queries, 10, {{"ht", 12}}); }),
            "faiss:OPQ4,IVF32,PQ4: ht can only be the index's saved parameter, not a search's (FAISS 1.7.3 reads it "
            "from the index itself)");
}

TEST(FaissSearchParams, IvfWithAnHnswQuantizer) {
  // efSearch (FAISS's name) or quantizer_efSearch: the coarse quantizer's.
  const auto all = clustered(10100, 16, 26);
  const auto database = all.narrow(0, 0, 10000), queries = all.narrow(0, 10000, 100);
  auto index = built("faiss:IVF256_HNSW4,Flat", database);
  for (double ef : {4.0, 64.0}) {
    const SearchParams params{{"nprobe", 16}, {"efSearch", ef}};
    const auto faiss = copy_with(*copy_with(*index, "nprobe", 16), "efSearch", ef);
    EXPECT_TRUE(same(index->search(queries, 10, params), faiss->search(queries, 10))) << ef;
    EXPECT_TRUE(same(index->search(queries, 10, {{"nprobe", 16}, {"quantizer_efSearch", ef}}),
                     faiss->search(queries, 10)))
        << ef;
    EXPECT_TRUE(same(index->range_search(queries, 2.5, params), faiss->range_search(queries, 2.5))) << ef;
  }
  EXPECT_EQ(error_of([&] { index->search(queries, 10, {{"ht", 8}}); }),
            "faiss:IVF256_HNSW4,Flat has no query-time parameter 'ht' (valid: nprobe, max_codes, efSearch, "
            "quantizer_efSearch)");
}

TEST(FaissSearchParams, NamesAndValuesAnIndexCannotTake) {
  const auto database = clustered(2000, 8, 27);
  const auto queries = database.narrow(0, 0, 5);
  auto flat = built("faiss:Flat", database);
  EXPECT_EQ(error_of([&] { flat->search(queries, 5, {{"nprobe", 4}}); }),
            "faiss:Flat has no query-time parameter 'nprobe' (it takes none)");
  EXPECT_THROW(flat->range_search(queries, 1.0, {{"nprobe", 4}}), imret::UsageError);
  auto hnsw = built("faiss:HNSW8", database);
  EXPECT_EQ(error_of([&] { hnsw->search(queries, 5, {{"nprobe", 4}}); }),
            "faiss:HNSW8 has no query-time parameter 'nprobe' (valid: efSearch)");
  EXPECT_EQ(error_of([&] { hnsw->search(queries, 5, {{"efConstruction", 80}}); }),
            "faiss:HNSW8: efConstruction is a build-time parameter; a search cannot take it");
  EXPECT_THROW(hnsw->range_search(queries, 1.0, {{"efSearch", 32}}), imret::UsageError);  // HNSW has no range search
  auto ivf = built("faiss:IVF16,Flat", database);
  for (const auto& [name, value, text] : std::vector<std::tuple<std::string, double, std::string>>{
           {"nprobe", 0, "nprobe must be a whole number >= 1 (got 0)"},
           {"nprobe", 2.5, "nprobe must be a whole number >= 1 (got 2.5)"},
           {"nprobe", 1e12, "nprobe must be a whole number >= 1 (got 1e+12)"},
           {"max_codes", -1, "max_codes must be a whole number >= 0 (got -1)"}})
    EXPECT_EQ(error_of([&] { ivf->search(queries, 5, {{name, value}}); }), "faiss:IVF16,Flat: " + text);
  EXPECT_EQ(error_of([&] { hnsw->search(queries, 5, {{"efSearch", -3}}); }),
            "faiss:HNSW8: efSearch must be a whole number >= 1 (got -3)");
  // FAISS 1.7.3 searches a refined index with its own settings only.
  auto refined = built("faiss:IVF16,Flat,RFlat", database);
  EXPECT_EQ(error_of([&] { refined->search(queries, 5, {{"nprobe", 4}}); }),
            "faiss:IVF16,Flat,RFlat: nprobe can only be the index's saved parameter, not a search's (FAISS 1.7.3 "
            "reads it from the index itself)");
  EXPECT_EQ(error_of([&] { refined->search(queries, 5, {{"efSearch", 4}}); }),
            "faiss:IVF16,Flat,RFlat has no query-time parameter 'efSearch' (it takes none)");
}

TEST(FaissSearchParams, ParameterNamesByIndexKind) {
  using Names = std::vector<std::string>;
  auto names = [](const char* factory) {
    std::unique_ptr<faiss::Index> index(faiss::index_factory(16, factory));
    return imret::search::per_call_parameter_names(*index);
  };
  EXPECT_EQ(names("Flat"), Names{});
  EXPECT_EQ(names("IVF8,Flat"), (Names{"nprobe", "max_codes"}));
  EXPECT_EQ(names("IVF8,PQ4"), (Names{"nprobe", "max_codes"}));
  EXPECT_EQ(names("HNSW8"), Names{"efSearch"});
  EXPECT_EQ(names("HNSW8_SQ8"), Names{"efSearch"});
  EXPECT_EQ(names("PQ4"), Names{"ht"});
  EXPECT_EQ(names("PCA8,HNSW8"), Names{"efSearch"});
  EXPECT_EQ(names("IVF8_HNSW4,PQ4"), (Names{"nprobe", "max_codes", "efSearch", "quantizer_efSearch"}));
  // FAISS 1.7.3 refuses search parameters for these.
  EXPECT_EQ(names("IVF8,PQ4x4fs"), Names{});
  EXPECT_EQ(names("IDMap,HNSW8"), Names{});
  EXPECT_EQ(names("IVF8,Flat,RFlat"), Names{});
}
