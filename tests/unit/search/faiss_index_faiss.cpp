// FAISS backends against imret's exact index: Flat and HNSW (with a large
// efSearch) return the exact neighbours, IVF/PQ reach the recall they should,
// training rules, parameters, range search, persistence and its errors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "imret/core/error.hpp"
#include "imret/search/exact_index.hpp"
#include "imret/search/faiss_index.hpp"
#include "imret/search/index.hpp"
#include "support/scratch.hpp"

using imret::search::ExactIndex;
using imret::search::FaissIndex;
using imret::search::Metric;

namespace {

std::unique_ptr<imret::search::Index> built(const std::string& spec, const at::Tensor& database,
                                            Metric metric = Metric::Euclidean) {
  auto index = imret::search::make_index(spec, torch::kCPU, metric);
  if (index->needs_training()) index->train(database);
  index->add(database);
  return index;
}

// Mean fraction of the exact top-k ids that `found` has in its top-k.
double recall_at(const imret::search::SearchResult& found, const imret::search::SearchResult& exact, int64_t k) {
  const auto f = found.ids.narrow(1, 0, k), e = exact.ids.narrow(1, 0, k);
  return f.unsqueeze(2).eq(e.unsqueeze(1)).any(2).sum().item<double>() / static_cast<double>(e.numel());
}

// Clustered data, as embeddings are: 40 centres, small spread.
at::Tensor clustered(int64_t n, int64_t d, uint64_t seed) {
  torch::manual_seed(static_cast<int64_t>(seed));
  const auto centres = torch::randn({40, d}) * 3;
  return centres.index_select(0, torch::randint(40, {n}, torch::kLong)) + torch::randn({n, d});
}

std::filesystem::path scratch(const std::string& name) { return imret::testing::scratch_path("faiss", name); }

}  // namespace

TEST(FaissIndex, FlatReturnsTheExactNeighboursAndDistances) {
  torch::manual_seed(1);
  const auto database = torch::randn({500, 16}), queries = torch::randn({60, 16});
  for (Metric metric : {Metric::Euclidean, Metric::Cosine}) {
    auto faiss = built("faiss:Flat", database, metric);
    auto exact = built(metric == Metric::Cosine ? "exact:cosine" : "exact:l2", database);
    const auto f = faiss->search(queries, 10), e = exact->search(queries, 10);
    EXPECT_EQ(f.metric, metric);
    EXPECT_TRUE(torch::equal(f.ids, e.ids));
    EXPECT_TRUE(torch::allclose(f.scores, e.scores, 1e-4, 1e-4));  // distances, not squared ones
    EXPECT_EQ(faiss->size(), 500);
    EXPECT_EQ(faiss->dim(), 16);
    EXPECT_FALSE(faiss->needs_training());
  }
}

TEST(FaissIndex, HnswWithALargeEfSearchIsExact) {
  const auto all = clustered(2100, 24, 2);
  const auto database = all.narrow(0, 0, 2000), queries = all.narrow(0, 2000, 100);  // same clusters
  auto hnsw = built("faiss:HNSW32", database);
  hnsw->set_parameter("efSearch", 2000);
  auto exact = built("exact", database);
  EXPECT_DOUBLE_EQ(recall_at(hnsw->search(queries, 10), exact->search(queries, 10), 10), 1.0);
  ASSERT_EQ(hnsw->parameters().size(), 1u);
  EXPECT_EQ(hnsw->parameters()[0].first, "efSearch");
}

TEST(FaissIndex, IvfAndPqRecallAgainstExact) {
  const auto all = clustered(20300, 32, 4);
  const auto database = all.narrow(0, 0, 20000), queries = all.narrow(0, 20000, 300);  // same clusters
  auto exact = built("exact", database);
  const auto truth = exact->search(queries, 10);

  auto ivf = built("faiss:IVF64,Flat", database);
  EXPECT_EQ(ivf->min_training_points(), 39 * 64);
  const double one_list = recall_at(ivf->search(queries, 10), truth, 10);
  ivf->set_parameter("nprobe", 8);
  const double eight_lists = recall_at(ivf->search(queries, 10), truth, 10);
  ivf->set_parameter("nprobe", 64);  // every list: exact
  const double all_lists = recall_at(ivf->search(queries, 10), truth, 10);
  EXPECT_GT(eight_lists, 0.9);
  EXPECT_GE(eight_lists, one_list);
  EXPECT_DOUBLE_EQ(all_lists, 1.0);

  auto pq = built("faiss:IVF64,PQ16", database);
  pq->set_parameter("nprobe", 16);
  // 16 bytes a vector instead of 128: lossy, but far above chance (10/20000).
  EXPECT_GT(recall_at(pq->search(queries, 10), truth, 10), 0.3);
  EXPECT_LT(pq->memory_bytes(), ivf->memory_bytes() / 3);
}

TEST(FaissIndex, PadsWhenKExceedsTheIndex) {
  auto index = built("faiss:Flat", torch::tensor({0.f, 1.f, 3.f}).reshape({3, 1}));
  const auto r = index->search(torch::tensor({0.9f}).reshape({1, 1}), 5);
  EXPECT_EQ(r.ids[0][0].item<int64_t>(), 1);
  EXPECT_EQ(r.ids[0][2].item<int64_t>(), 2);
  EXPECT_EQ(r.ids[0][3].item<int64_t>(), -1);
  EXPECT_NEAR(r.scores[0][0].item<float>(), 0.1f, 1e-5);
  EXPECT_TRUE(std::isinf(r.scores[0][4].item<float>()));
  auto cosine = built("faiss:Flat", torch::tensor({1.f, 0.f}).reshape({1, 2}), Metric::Cosine);
  const auto c = cosine->search(torch::tensor({1.f, 1.f}).reshape({1, 2}), 2);
  EXPECT_NEAR(c.scores[0][0].item<float>(), std::sqrt(0.5f), 1e-6);
  EXPECT_EQ(c.ids[0][1].item<int64_t>(), -1);
  EXPECT_LT(c.scores[0][1].item<float>(), -1e30f);
}

TEST(FaissIndex, TrainingNeedsEnoughPoints) {
  const auto few = clustered(100, 8, 6);
  auto big = imret::search::make_index("faiss:IVF256,Flat", torch::kCPU);
  EXPECT_TRUE(big->needs_training());
  try {
    big->train(few);
    FAIL() << "trained 256 centroids on 100 points";
  } catch (const imret::Error& e) {
    EXPECT_NE(std::string(e.what()).find("too few"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("256"), std::string::npos) << e.what();
  }
  // Fewer than 39 per centroid: a warning, and a working index.
  auto small = imret::search::make_index("faiss:IVF16,Flat", torch::kCPU);
  small->train(few);
  EXPECT_FALSE(small->needs_training());
  EXPECT_EQ(small->trained_on(), 100);
  // HNSW learns nothing: train() makes the index and reports no training.
  auto hnsw = imret::search::make_index("faiss:HNSW16", torch::kCPU);
  EXPECT_TRUE(hnsw->needs_training());  // unknown until the index is made
  hnsw->train(few);
  EXPECT_FALSE(hnsw->needs_training());
  EXPECT_EQ(hnsw->trained_on(), 0);
  small->add(few);
  EXPECT_EQ(small->search(few.narrow(0, 0, 3), 1).ids.size(0), 3);
  // Adding before training is an error, not an abort.
  auto untrained = imret::search::make_index("faiss:IVF16,Flat", torch::kCPU);
  EXPECT_THROW(untrained->add(few), imret::Error);
}

TEST(FaissIndex, BadSpecsAndParameters) {
  EXPECT_THROW(imret::search::make_index("faiss:", torch::kCPU), imret::UsageError);
  auto nonsense = imret::search::make_index("faiss:NoSuchIndex42", torch::kCPU);
  EXPECT_THROW(nonsense->add(torch::zeros({4, 8})), imret::UsageError);
  auto flat = built("faiss:Flat", torch::randn({10, 8}));
  EXPECT_THROW(flat->set_parameter("nprobe", 4), imret::UsageError);
  EXPECT_THROW(flat->search(torch::zeros({1, 9}), 1), imret::Error);
  EXPECT_THROW(flat->search(torch::zeros({1, 8}), 0), imret::Error);
  EXPECT_THROW(flat->add(torch::zeros({2, 9})), imret::Error);
  auto exact = built("exact", torch::randn({10, 8}));
  EXPECT_THROW(exact->set_parameter("nprobe", 4), imret::UsageError);
  // Parameters set before the index is made apply when it is: a wrong one fails there.
  auto pending = imret::search::make_index("faiss:Flat", torch::kCPU);
  pending->set_parameter("efConstruction", 80);
  EXPECT_THROW(pending->add(torch::zeros({2, 8})), imret::UsageError);
}

TEST(FaissIndex, EfConstructionIsABuildParameter) {
  const auto all = clustered(2100, 24, 12);
  const auto database = all.narrow(0, 0, 2000), queries = all.narrow(0, 2000, 100);
  auto hnsw = imret::search::make_index("faiss:HNSW16", torch::kCPU);
  hnsw->set_parameter("efConstruction", 120);  // before adding: shapes the graph
  hnsw->set_parameter("efSearch", 2000);
  hnsw->add(database);
  ASSERT_EQ(hnsw->parameters().size(), 2u);
  EXPECT_EQ(hnsw->parameters()[0].first, "efConstruction");
  EXPECT_DOUBLE_EQ(recall_at(hnsw->search(queries, 10), built("exact", database)->search(queries, 10), 10), 1.0);
  EXPECT_THROW(hnsw->set_parameter("efConstruction", 0), imret::UsageError);
}

TEST(FaissIndex, RangeSearchMatchesTheExactIndex) {
  const auto database = clustered(3000, 8, 7);
  const auto queries = database.narrow(0, 0, 40) + 0.1 * torch::randn({40, 8});  // near the database's clusters
  for (Metric metric : {Metric::Euclidean, Metric::Cosine}) {
    const double radius = metric == Metric::Euclidean ? 3.5 : 0.8;
    auto faiss = built("faiss:Flat", database, metric);
    auto exact = built(metric == Metric::Euclidean ? "exact:l2" : "exact:cosine", database);
    const auto f = faiss->range_search(queries, radius), e = exact->range_search(queries, radius);
    EXPECT_TRUE(torch::equal(f.lims, e.lims));
    EXPECT_TRUE(torch::equal(f.ids, e.ids));  // both sorted best first
    EXPECT_TRUE(torch::allclose(f.scores, e.scores, 1e-4, 1e-4));
    EXPECT_GT(f.ids.size(0), 40);  // the radius finds something
  }
  auto hnsw = built("faiss:HNSW16", database);
  EXPECT_THROW(hnsw->range_search(queries, 1.0), imret::UsageError);
}

TEST(FaissIndex, SaveAndLoadRoundTrip) {
  const auto all = clustered(5050, 16, 9);
  const auto database = all.narrow(0, 0, 5000), queries = all.narrow(0, 5000, 50);  // same clusters
  for (const std::string spec : {"faiss:Flat", "faiss:IVF32,Flat", "faiss:HNSW16", "faiss:IVF32,PQ4"}) {
    auto index = built(spec, database);
    const auto before = index->search(queries, 5);
    const auto file = scratch("round_trip.faiss");
    index->save(file);
    auto loaded = imret::search::load_index(spec, Metric::Euclidean, file, torch::kCPU);
    EXPECT_EQ(loaded->size(), 5000) << spec;
    EXPECT_EQ(loaded->spec(), spec);
    const auto after = loaded->search(queries, 5);
    EXPECT_TRUE(torch::equal(before.ids, after.ids)) << spec;
    EXPECT_TRUE(torch::equal(before.scores, after.scores)) << spec;
  }
}

TEST(FaissIndex, LoadErrorsNameTheFile) {
  auto index = built("faiss:IVF32,Flat", clustered(3000, 16, 11));
  const auto good = scratch("good.faiss");
  index->save(good);
  const auto size = std::filesystem::file_size(good);
  auto expect_error = [&](const std::filesystem::path& file, Metric metric, const char* words) {
    try {
      imret::search::load_index("faiss:IVF32,Flat", metric, file, torch::kCPU);
      FAIL() << file << " loaded";
    } catch (const imret::Error& e) {
      EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  for (const double fraction : {0.5, 0.99}) {
    const auto truncated = scratch("truncated.faiss");
    std::filesystem::copy_file(good, truncated, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(truncated, static_cast<uintmax_t>(static_cast<double>(size) * fraction));
    expect_error(truncated, Metric::Euclidean, "not a readable FAISS index");
  }
  const auto garbage = scratch("garbage.faiss");
  std::ofstream(garbage) << "this is not an index, just some text long enough to be read";
  expect_error(garbage, Metric::Euclidean, "not a readable FAISS index");
  expect_error(scratch("missing.faiss"), Metric::Euclidean, "no such index file");
  expect_error(good, Metric::Cosine, "metric");
}
