#include "imret/learn/trainer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/data/idx.hpp"
#include "imret/models/checkpoint.hpp"
#include "small_runs.hpp"

namespace fs = std::filesystem;
using namespace imret;

namespace {
fs::path temp_dir(const std::string& name) { return imret::testing::fresh_run_dir("trainer_test", name); }
using imret::testing::small_config;
using imret::testing::small_fashion_mnist;
}  // namespace

TEST(LearningRate, Schedules) {
  learn::TrainConfig config;
  config.lr = 0.1;
  config.epochs = 4;
  EXPECT_DOUBLE_EQ(learn::learning_rate_at(config, 3), 0.1);
  config.schedule = "step";
  config.step_size = 2;
  config.gamma = 0.5;
  EXPECT_DOUBLE_EQ(learn::learning_rate_at(config, 1), 0.1);
  EXPECT_DOUBLE_EQ(learn::learning_rate_at(config, 2), 0.05);
  config.schedule = "cosine";
  EXPECT_DOUBLE_EQ(learn::learning_rate_at(config, 0), 0.1);
  EXPECT_NEAR(learn::learning_rate_at(config, 2), 0.05, 1e-12);
}

TEST(TrainConfig, RejectsBadValuesWithTheOptionName) {
  learn::TrainConfig config;
  config.optimizer = "rmsprop";
  try {
    config.validate();
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer rmsprop"), std::string::npos);
  }
  config = learn::TrainConfig();
  EXPECT_EQ(learn::TrainConfig::from_json(config.to_json()).to_json(), config.to_json());
}

TEST(Trainer, LearnsFashionMnistAndWritesCheckpoints) {
  const fs::path run = temp_dir("learns");
  const auto result = learn::train_embedding(small_config(), small_fashion_mnist(2000), run);
  ASSERT_EQ(result.history.size(), 2u);
  EXPECT_LT(result.history[1].train_loss, result.history[0].train_loss);
  // Far above chance (0.1) after two short epochs.
  EXPECT_GT(result.history[1].val_accuracy, 0.6);
  EXPECT_GT(result.history[1].val_precision_at_1, 0.6);
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "last.safetensors"));
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "last.optim.pt"));
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "best.safetensors"));
  EXPECT_TRUE(fs::exists(run / "train_log.csv"));
  const auto loaded = models::load_checkpoint(result.last_checkpoint);
  EXPECT_EQ(loaded.info.epoch, 2);
  EXPECT_EQ(loaded.info.classes.size(), 10u);
}

TEST(Trainer, ResumingGivesTheSameWeightsAsTrainingStraightThrough) {
  auto dataset = small_fashion_mnist(600);
  // Random miners draw the same tuples after a resume; proxies come back.
  for (const auto& [method, miner] : std::vector<std::pair<std::string, std::string>>{
           {"classification", ""}, {"proxy-anchor", ""}, {"triplet", "random-hard"}}) {
    learn::TrainConfig config = small_config();
    config.method = method;
    config.miner = miner;
    config.classes_per_batch = 5;
    config.images_per_class = 8;
    const fs::path straight = temp_dir("straight-" + method);
    learn::train_embedding(config, dataset, straight);

    const fs::path resumed = temp_dir("resumed-" + method);
    config.epochs = 1;
    learn::train_embedding(config, dataset, resumed);
    config.epochs = 2;
    const auto result = learn::train_embedding(config, dataset, resumed, resumed / "checkpoints" / "last.safetensors");
    ASSERT_EQ(result.history.size(), 2u);

    const auto a = models::load_checkpoint(straight / "checkpoints" / "last.safetensors");
    const auto b = models::load_checkpoint(resumed / "checkpoints" / "last.safetensors");
    const auto sa = models::state_dict(*a.network);
    const auto sb = models::state_dict(*b.network);
    ASSERT_EQ(sa.size(), sb.size());
    for (size_t i = 0; i < sa.size(); ++i)
      EXPECT_TRUE(torch::allclose(sa[i].second.to(torch::kDouble), sb[i].second.to(torch::kDouble), 1e-4, 1e-5))
          << method << " " << sa[i].first;
  }
}

TEST(Trainer, ResumingAFinishedRunAsksForMoreEpochs) {
  auto dataset = small_fashion_mnist(300);
  learn::TrainConfig config = small_config();
  config.epochs = 1;
  const fs::path run = temp_dir("finished");
  learn::train_embedding(config, dataset, run);
  EXPECT_THROW(learn::train_embedding(config, dataset, run, run / "checkpoints" / "last.safetensors"), UsageError);
}

TEST(Trainer, TripletBatchHardLearnsFromPKBatches) {
  learn::TrainConfig config = small_config();
  config.method = "triplet";
  config.miner = "batch-hard";
  config.classes_per_batch = 10;
  config.images_per_class = 8;
  const fs::path run = temp_dir("triplet");
  const auto result = learn::train_embedding(config, small_fashion_mnist(2000), run);
  ASSERT_EQ(result.history.size(), 2u);
  // Batch-hard mines exactly one triplet per anchor: P x K per batch.
  EXPECT_DOUBLE_EQ(result.history[0].tuples_per_batch, 80.0);
  EXPECT_GT(result.history[0].nonzero_fraction, 0.0);
  EXPECT_LE(result.history[0].nonzero_fraction, 1.0);
  EXPECT_TRUE(std::isnan(result.history[0].train_accuracy));
  EXPECT_TRUE(std::isnan(result.history[0].val_accuracy));
  EXPECT_GT(result.history[1].val_precision_at_1, 0.6);
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "best.safetensors"));
}

TEST(Trainer, EveryMetricMethodRunsAndRecordsItsTuples) {
  for (const std::string method : {"siamese", "quadruplet", "multi-similarity", "proxy-anchor"}) {
    learn::TrainConfig config = small_config();
    config.method = method;
    config.epochs = 1;
    config.classes_per_batch = 5;
    config.images_per_class = 4;
    const auto result = learn::train_embedding(config, small_fashion_mnist(300), temp_dir(method));
    ASSERT_EQ(result.history.size(), 1u) << method;
    EXPECT_GT(result.history[0].tuples_per_batch, 0.0) << method;
    EXPECT_TRUE(std::isfinite(result.history[0].train_loss)) << method;
  }
  learn::TrainConfig config = small_config();
  config.method = "lifted";
  EXPECT_THROW(config.validate(), UsageError);
}

TEST(Trainer, ClippingBoundsEveryStepOfPlainSgd) {
  auto dataset = small_fashion_mnist(600);
  learn::TrainConfig config = small_config();
  config.optimizer = "sgd";
  config.momentum = 0;
  config.lr = 1.0;
  config.epochs = 1;
  config.clip_grad_norm = 1e-6;
  const fs::path run = temp_dir("clipped");
  torch::manual_seed(config.seed);
  const auto before = models::state_dict(*models::make_network(config.network));
  learn::train_embedding(config, dataset, run);
  const auto after = models::state_dict(*models::load_checkpoint(run / "checkpoints" / "last.safetensors").network);
  // Each SGD step moves the parameters by lr * (clipped norm) at most.
  const int64_t steps = static_cast<int64_t>(dataset->size() * (1 - config.val_fraction)) / config.batch_size;
  double moved = 0;
  for (size_t i = 0; i < before.size(); ++i)
    if (before[i].first.find("running_") == std::string::npos && before[i].first.find("num_batches") == std::string::npos)
      moved += (after[i].second.to(torch::kDouble) - before[i].second.to(torch::kDouble)).pow(2).sum().item<double>();
  EXPECT_GT(std::sqrt(moved), 0.0);
  EXPECT_LE(std::sqrt(moved), static_cast<double>(steps) * config.lr * config.clip_grad_norm * 1.01);
}

TEST(Trainer, EarlyStoppingEndsTheRunAfterEpochsWithoutABetterValidationMapAtR) {
  // With a frozen backbone only `fc` learns: the embeddings, and so the
  // validation mAP@R, stay the same, and the run stops after `early_stop`
  // epochs without a gain.
  learn::TrainConfig config = small_config();
  const fs::path start = temp_dir("early-start") / "start.safetensors";
  models::CheckpointInfo info;
  info.spec = config.network;
  models::save_checkpoint(start, *models::make_network(config.network), info);
  config.weights = start.string();
  config.freeze = "backbone";
  config.epochs = 6;
  config.early_stop = 2;
  const auto result = learn::train_embedding(config, small_fashion_mnist(600), temp_dir("early") / "run");
  ASSERT_EQ(result.history.size(), 3u);
  EXPECT_DOUBLE_EQ(result.history[2].val_map_at_r, result.history[0].val_map_at_r);

  config.early_stop = 0;
  config.epochs = 4;
  EXPECT_EQ(learn::train_embedding(config, small_fashion_mnist(600), temp_dir("no-early")).history.size(), 4u);
  learn::TrainConfig no_validation = small_config();
  no_validation.early_stop = 2;
  no_validation.val_fraction = 0;
  EXPECT_THROW(no_validation.validate(), UsageError);
}

TEST(Trainer, OfflinePairsAndTripletsTrainWithAFixedValidationLoss) {
  for (const std::string method : {"siamese", "triplet"}) {
    learn::TrainConfig config = small_config();
    config.method = method;
    config.tuples = "offline";
    config.batch_size = 32;
    config.margin = 0.5;
    const auto result = learn::train_embedding(config, small_fashion_mnist(600), temp_dir("offline-" + method));
    ASSERT_EQ(result.history.size(), 2u) << method;
    // One tuple per training image, batch_size tuples a batch (the last one smaller).
    EXPECT_NEAR(result.history[0].tuples_per_batch, 480.0 / 15.0, 1e-9) << method;
    EXPECT_TRUE(std::isfinite(result.history[0].val_loss)) << method;
    EXPECT_TRUE(std::isfinite(result.history[1].val_loss)) << method;
    EXPECT_GT(result.history[1].val_precision_at_1, 0.5) << method;
  }
  learn::TrainConfig config = small_config();
  config.method = "quadruplet";
  config.tuples = "offline";
  EXPECT_THROW(config.validate(), UsageError);
}

TEST(Trainer, MahalanobisDistanceLearnsTheMetricMapAndRanksByEuclideanDistance) {
  learn::TrainConfig config = small_config();
  config.method = "triplet";
  config.distance = "mahalanobis";
  config.classes_per_batch = 5;
  config.images_per_class = 8;
  config.epochs = 1;
  const fs::path run = temp_dir("mahalanobis");
  const auto result = learn::train_embedding(config, small_fashion_mnist(600), run);
  const auto loaded = models::load_checkpoint(result.last_checkpoint);
  EXPECT_TRUE(loaded.info.spec.learned_metric);
  torch::Tensor map;
  for (const auto& [name, tensor] : models::state_dict(*loaded.network))
    if (name == "metric_map.weight") map = tensor;
  ASSERT_TRUE(map.defined());
  EXPECT_GT((map - torch::eye(16)).abs().max().item<double>(), 1e-4);  // L was trained
  EXPECT_EQ(learn::retrieval_metric(config), search::Metric::Euclidean);
  config.method = "proxy-anchor";
  EXPECT_THROW(config.validate(), UsageError);
}

TEST(Trainer, ZeroEpochsSavesTheUntrainedNetworkAsABaseline) {
  const fs::path run = temp_dir("untrained");
  learn::TrainConfig config = small_config();
  config.epochs = 0;
  const auto result = learn::train_embedding(config, small_fashion_mnist(200), run);
  EXPECT_TRUE(result.history.empty());
  ASSERT_TRUE(fs::exists(result.best_checkpoint));
  const auto loaded = models::load_checkpoint(result.best_checkpoint);
  EXPECT_EQ(loaded.info.epoch, 0);
  // The initial weights of the seed: the same as a network made with it.
  torch::manual_seed(config.seed);
  config.network.in_channels = 1;
  config.network.embedding_relu = true;
  auto fresh = models::make_network(config.network);
  auto saved = loaded.network->named_parameters();
  for (const auto& item : fresh->named_parameters())
    EXPECT_TRUE(torch::equal(item.value(), saved[item.key()])) << item.key();
  config.epochs = -1;
  EXPECT_THROW(config.validate(), UsageError);
}

TEST(Trainer, AFrozenBackboneTrainsOnlyTheEmbeddingHead) {
  learn::TrainConfig config = small_config();
  config.method = "triplet";
  config.network.head_dim = 8;
  const auto data = small_fashion_mnist(400);
  // Weights to start from: the untrained network of the same seed (its head
  // is not loaded from a file, but starts from the same seed's values).
  config.epochs = 0;
  const fs::path start = learn::train_embedding(config, data, temp_dir("head0")).best_checkpoint;
  config.epochs = 1;
  config.weights = start.string();
  config.freeze = "backbone";
  const auto result = learn::train_embedding(config, data, temp_dir("head"));
  const auto trained = models::load_checkpoint(result.last_checkpoint);
  auto before = models::load_checkpoint(start).network->named_parameters();
  for (const auto& item : trained.network->named_parameters()) {
    const bool same = torch::equal(item.value(), before[item.key()]);
    if (item.key().rfind("embedding_head.", 0) == 0)
      EXPECT_FALSE(same) << item.key();
    else
      EXPECT_TRUE(same) << item.key();
  }
  EXPECT_EQ(trained.network->embedding_dim(), 8);
  config.method = "classification";
  EXPECT_THROW(config.validate(), UsageError);
}
