// Training on CUDA: every method and miner runs on the GPU (no tensor left on
// the CPU by mistake), learns, and writes checkpoints that load on the CPU.
// Run where LibTorch sees a GPU (scripts/gpu/check.sh); skipped, with the
// reason, elsewhere.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>

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
