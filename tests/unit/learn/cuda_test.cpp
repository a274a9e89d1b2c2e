// Training on CUDA: every method and miner runs on the GPU (no tensor left on
// the CPU by mistake), learns, and writes checkpoints that load on the CPU.
// Run where LibTorch sees a GPU (scripts/gpu/check.sh); skipped, with the
// reason, elsewhere.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

#include "imret/learn/miner.hpp"
#include "imret/learn/registry.hpp"
#include "imret/learn/trainer.hpp"
#include "imret/models/checkpoint.hpp"
#include "small_runs.hpp"

namespace fs = std::filesystem;
using namespace imret;

namespace {

fs::path temp_dir(const std::string& name) { return imret::testing::fresh_run_dir("cuda_trainer_test", name); }
using imret::testing::small_fashion_mnist;

learn::TrainConfig cuda_config(const std::string& method) {
  learn::TrainConfig config = imret::testing::small_config();
  config.device = "cuda";
  config.method = method;
  config.classes_per_batch = 10;
  config.images_per_class = 8;
  return config;
}

}  // namespace

TEST(CudaTrainer, ClassificationAndTripletLearnOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  for (const std::string method : {"classification", "triplet"}) {
    const fs::path run = temp_dir(method);
    const auto result = learn::train_embedding(cuda_config(method), small_fashion_mnist(2000), run);
    ASSERT_EQ(result.history.size(), 2u) << method;
    EXPECT_GT(result.history[1].val_precision_at_1, 0.6) << method;
    const auto loaded = models::load_checkpoint(result.last_checkpoint);  // CPU tensors
    for (const auto& parameter : loaded.network->parameters()) EXPECT_TRUE(parameter.device().is_cpu());
  }
}

TEST(CudaTrainer, EveryMethodAndMinerRunsOnTheGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  struct Case {
    std::string method, miner, distance, tuples;
  };
  const std::vector<Case> cases = {
      {"triplet", "batch-hard", "euclidean", ""},
      {"triplet", "semi-hard", "euclidean", ""},
      {"triplet", "random-hard", "euclidean", ""},
      {"triplet", "distance-weighted", "euclidean", ""},
      {"triplet", "easy-positive", "cosine", ""},
      {"triplet", "all", "cosine", ""},
      {"triplet", "", "mahalanobis", ""},
      {"triplet", "", "euclidean", "offline"},
      {"siamese", "hard-negative", "euclidean", ""},
      {"siamese", "", "euclidean", "offline"},
      {"quadruplet", "", "euclidean", ""},
      {"multi-similarity", "", "cosine", ""},
      {"proxy-anchor", "", "cosine", ""}};
  for (const auto& c : cases) {
    learn::TrainConfig config = cuda_config(c.method);
    config.miner = c.miner;
    config.distance = c.distance;
    if (!c.tuples.empty()) config.tuples = c.tuples;
    config.epochs = 1;
    const std::string name = c.method + " " + c.miner + " " + c.distance + " " + c.tuples;
    learn::TrainResult result;
    ASSERT_NO_THROW(result = learn::train_embedding(config, small_fashion_mnist(600), temp_dir("every"))) << name;
    ASSERT_EQ(result.history.size(), 1u) << name;
    EXPECT_TRUE(std::isfinite(result.history[0].train_loss)) << name;
    EXPECT_GT(result.history[0].tuples_per_batch, 0.0) << name;
  }
}

// The semi-hard miner's device algorithm on the GPU gives the CPU loop's
// triplets, in order (float64 comparisons on both).
TEST(CudaMiner, SemiHardOnTheGpuEqualsTheCpuLoop) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  torch::manual_seed(0);
  const at::Tensor embeddings = torch::nn::functional::normalize(torch::randn({256, 64}),
                                                                 torch::nn::functional::NormalizeFuncOptions().dim(1));
  const at::Tensor labels = torch::arange(256, torch::kLong).remainder(16);
  const auto distance = learn::find_distance("euclidean").make();
  for (bool keep_all : {true, false}) {
    const learn::SemiHardTripletMiner miner(keep_all);
    const learn::Triplets cpu = miner.mine(embeddings, labels, *distance, 0.2);
    const learn::Triplets gpu = miner.mine(embeddings.cuda(), labels.cuda(), *distance, 0.2);
    ASSERT_TRUE(gpu.anchor.is_cuda());
    EXPECT_GT(cpu.anchor.numel(), 100);
    EXPECT_TRUE(torch::equal(gpu.anchor.cpu(), cpu.anchor) && torch::equal(gpu.positive.cpu(), cpu.positive) &&
                torch::equal(gpu.negative.cpu(), cpu.negative))
        << (keep_all ? "all" : "hardest");
  }
}
