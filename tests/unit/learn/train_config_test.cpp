#include "imret/learn/train_config.hpp"

#include <gtest/gtest.h>

#include "imret/core/error.hpp"

using imret::UsageError;
using imret::learn::TrainConfig;
using nlohmann::json;

namespace {
// The UsageError message of from_settings, or "" when it accepts the settings.
std::string settings_error(const json& settings) {
  try {
    TrainConfig::from_settings(settings, "plan.yaml");
    return "";
  } catch (const UsageError& e) {
    return e.what();
  }
}
}  // namespace

TEST(TrainSettings, MissingKeysKeepTheDefaultsAndGivenOnesAreRead) {
  const TrainConfig config = TrainConfig::from_settings(
      {{"method", "triplet"}, {"miner", "semi-hard"}, {"margin", 0.1}, {"epochs", 7}, {"normalize", false}}, "x");
  EXPECT_EQ(config.method, "triplet");
  EXPECT_EQ(config.miner, "semi-hard");
  EXPECT_DOUBLE_EQ(config.margin, 0.1);
  EXPECT_EQ(config.epochs, 7);
  EXPECT_FALSE(config.normalize);
  EXPECT_EQ(config.lr, TrainConfig().lr);
  EXPECT_EQ(config.classes_per_batch, TrainConfig().classes_per_batch);
}

TEST(TrainSettings, NetworkSettingsMayBeFlatOrNested) {
  const TrainConfig flat = TrainConfig::from_settings({{"arch", "resnet18"}, {"embedding_dim", 128}}, "x");
  EXPECT_EQ(flat.network.arch, "resnet18");
  EXPECT_EQ(flat.network.embedding_dim, 128);
  const TrainConfig nested = TrainConfig::from_settings({{"network", {{"embedding_dim", 32}}}}, "x");
  EXPECT_EQ(nested.network.arch, "convnet");
  EXPECT_EQ(nested.network.embedding_dim, 32);
  // A run's own recorded settings read back to the same configuration.
  TrainConfig recorded;
  recorded.method = "siamese";
  recorded.weights_prefix = {"module."};
  EXPECT_EQ(TrainConfig::from_settings(recorded.to_json(), "x").to_json(), recorded.to_json());
  EXPECT_EQ(TrainConfig::from_settings({{"weights_prefix", "module."}}, "x").weights_prefix,
            std::vector<std::string>{"module."});
}

TEST(TrainSettings, UnknownKeysAndWrongTypesNameTheFileAndTheKey) {
  EXPECT_NE(settings_error({{"lrr", 0.1}}).find("plan.yaml: unknown training setting 'lrr'"), std::string::npos);
  EXPECT_NE(settings_error({{"lr", "fast"}}).find("plan.yaml: training setting 'lr' should be number"),
            std::string::npos);
  EXPECT_NE(settings_error({{"epochs", 2.5}}).find("'epochs'"), std::string::npos);
  EXPECT_NE(settings_error({{"normalize", 1}}).find("'normalize'"), std::string::npos);
  EXPECT_NE(settings_error(json::array({1, 2})).find("plan.yaml: expected a mapping"), std::string::npos);
  EXPECT_EQ(settings_error({{"lr", 1}}), "");  // an integer is a number
}

TEST(TrainSettings, MultiLabelRelationOptionsAreReadAndChecked) {
  const TrainConfig config = TrainConfig::from_settings({{"positive_overlap", 0.5}, {"negatives", "below-overlap"}}, "x");
  EXPECT_DOUBLE_EQ(config.positive_overlap, 0.5);
  EXPECT_EQ(config.negatives, "below-overlap");
  EXPECT_EQ(TrainConfig::from_json(config.to_json()).to_json(), config.to_json());
  EXPECT_NO_THROW(config.validate());
  EXPECT_EQ(TrainConfig().negatives, "disjoint");
  EXPECT_DOUBLE_EQ(TrainConfig().positive_overlap, 0.0);
  TrainConfig bad;
  bad.positive_overlap = 1.5;
  try {
    bad.validate();
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("positive_overlap must be in [0, 1]"), std::string::npos);
  }
  bad = TrainConfig();
  bad.negatives = "overlapping";
  try {
    bad.validate();
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("negatives overlapping"), std::string::npos);
  }
  EXPECT_NE(settings_error({{"negatives", 1}}).find("'negatives'"), std::string::npos);
}
