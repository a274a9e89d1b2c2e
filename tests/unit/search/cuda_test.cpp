// Exact search and evaluation on CUDA give what the CPU gives. These run where
// LibTorch sees a GPU (scripts/gpu/check.sh runs them there) and are skipped,
// with the reason, on machines without one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "imret/eval/evaluate.hpp"
#include "imret/eval/relevance.hpp"
#include "imret/search/exact_index.hpp"

namespace fs = std::filesystem;
using namespace imret;
using search::ExactIndex;
using search::Metric;

namespace {

// Scores agree to float tolerance; ids agree except where two items score
// the same to that tolerance (either order is right then).
void expect_same_results(const search::SearchResult& cpu, const search::SearchResult& gpu) {
  ASSERT_EQ(cpu.ids.sizes(), gpu.ids.sizes());
  ASSERT_TRUE(gpu.ids.device().is_cpu());
  EXPECT_TRUE(torch::allclose(cpu.scores, gpu.scores, 1e-4, 1e-4));
  const auto differs = cpu.ids.ne(gpu.ids);
  const int64_t different = differs.sum().item<int64_t>();
  EXPECT_LE(different, cpu.ids.numel() / 1000) << "ids differ beyond near-ties";
}

}  // namespace

TEST(CudaExactIndex, SearchGivesTheCpuNeighboursForBothMetrics) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  torch::manual_seed(0);
  const at::Tensor database = torch::randn({30000, 48});
  const at::Tensor queries = torch::randn({700, 48});
  for (Metric metric : {Metric::Euclidean, Metric::Cosine}) {
    ExactIndex cpu(metric, torch::kCPU), gpu(metric, torch::kCUDA, /*block_size=*/256);
    for (ExactIndex* index : {&cpu, &gpu}) {  // two chunks: results are merged across add() calls
      index->add(database.slice(0, 0, 18000));
      index->add(database.slice(0, 18000));
    }
    expect_same_results(cpu.search(queries, 10), gpu.search(queries, 10));
    expect_same_results(cpu.search(queries, 1), gpu.search(queries, 1));
  }
}

TEST(CudaExactIndex, KLargerThanTheIndexPadsAsOnTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  torch::manual_seed(1);
  const at::Tensor database = torch::randn({5, 8});
  const at::Tensor queries = torch::randn({3, 8});
  for (Metric metric : {Metric::Euclidean, Metric::Cosine}) {
    ExactIndex cpu(metric, torch::kCPU), gpu(metric, torch::kCUDA);
    cpu.add(database);
    gpu.add(database);
    const auto a = cpu.search(queries, 8), b = gpu.search(queries, 8);
    EXPECT_TRUE(torch::equal(a.ids, b.ids));
    EXPECT_TRUE(torch::equal(a.scores.isinf(), b.scores.isinf()));
    EXPECT_TRUE(torch::allclose(a.scores.slice(1, 0, 5), b.scores.slice(1, 0, 5), 1e-5, 1e-5));
  }
}

TEST(CudaExactIndex, RangeSearchAndSaveLoadMatchTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  torch::manual_seed(2);
  const at::Tensor database = torch::randn({4000, 16});
  const at::Tensor queries = torch::randn({50, 16});
  ExactIndex cpu(Metric::Euclidean, torch::kCPU), gpu(Metric::Euclidean, torch::kCUDA);
  cpu.add(database);
  gpu.add(database);
  const auto a = cpu.range_search(queries, 3.5), b = gpu.range_search(queries, 3.5);
  ASSERT_GT(a.ids.numel(), 0);
  // Items within 1e-4 of the radius may fall either side; none is that close here.
  EXPECT_TRUE(torch::equal(a.lims, b.lims));
  EXPECT_TRUE(torch::equal(a.ids, b.ids));
  EXPECT_TRUE(torch::allclose(a.scores, b.scores, 1e-4, 1e-4));

  const fs::path file = fs::temp_directory_path() / ("imret_cuda_index_" + std::to_string(::getpid()) + ".npy");
  gpu.save(file);
  const auto loaded = ExactIndex::load(Metric::Euclidean, file, torch::kCUDA);
  fs::remove(file);
  expect_same_results(cpu.search(queries, 10), loaded->search(queries, 10));
}

TEST(CudaEvaluate, MetricsOnTheGpuEqualTheCpuMetrics) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  torch::manual_seed(3);
  const int64_t classes = 5;
  const at::Tensor database_labels = torch::randint(classes, {3000}, torch::kLong);
  const at::Tensor query_labels = torch::randint(classes, {300}, torch::kLong);
  const at::Tensor centres = torch::randn({classes, 24}) * 2;
  const at::Tensor database = centres.index_select(0, database_labels) + torch::randn({3000, 24});
  const at::Tensor queries = centres.index_select(0, query_labels) + torch::randn({300, 24});
  auto to_vector = [](const at::Tensor& t) { return std::vector<int64_t>(t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel()); };
  const eval::SameClassRelevance relevance(to_vector(query_labels), to_vector(database_labels), false);
  eval::MetricOptions options;
  for (Metric metric : {Metric::Euclidean, Metric::Cosine}) {
    const auto cpu = eval::evaluate_retrieval(queries, database, metric, relevance, options, false, torch::kCPU).summary;
    const auto gpu = eval::evaluate_retrieval(queries, database, metric, relevance, options, false, torch::kCUDA).summary;
    EXPECT_NEAR(cpu.mean_average_precision, gpu.mean_average_precision, 1e-5);
    EXPECT_NEAR(cpu.map_at_r, gpu.map_at_r, 1e-5);
    ASSERT_EQ(cpu.precision_at_k.size(), gpu.precision_at_k.size());
    for (size_t i = 0; i < cpu.precision_at_k.size(); ++i)
      EXPECT_NEAR(cpu.precision_at_k[i], gpu.precision_at_k[i], 1e-5);
  }
}
