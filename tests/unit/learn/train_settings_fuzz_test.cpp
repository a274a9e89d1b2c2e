// Regression tests for training settings found while fuzzing
// TrainConfig::from_settings (fuzz/yaml_config_fuzzer): each failed before
// the fix (a json type_error escaped, or a bad value was taken silently).
#include <gtest/gtest.h>

#include <string>

#include "imret/core/error.hpp"
#include "imret/learn/train_config.hpp"

using imret::learn::TrainConfig;
using json = nlohmann::json;

namespace {

// The UsageError message of from_settings, or "(accepted)".
std::string settings_error(const json& settings) {
  try {
    TrainConfig::from_settings(settings, "plan.yaml");
    return "(accepted)";
  } catch (const imret::UsageError& e) {
    return e.what();
  }
}

}  // namespace

TEST(TrainSettingsFuzz, NetworkThatIsNotAMappingIsAUsageError) {  // was json::type_error beside a flat key
  EXPECT_EQ(settings_error({{"network", 3}, {"arch", "convnet"}}), "plan.yaml: training setting 'network' should be object, got 3");
  EXPECT_EQ(settings_error({{"network", "resnet18"}}),
            "plan.yaml: training setting 'network' should be object, got \"resnet18\"");
}

TEST(TrainSettingsFuzz, NestedNetworkSettingsAreChecked) {  // 1e30 became an int64 (undefined behaviour)
  EXPECT_EQ(settings_error({{"network", {{"embedding_dim", 1e30}}}}),
            "plan.yaml: training setting 'network.embedding_dim' should be number, got 1e+30");
  EXPECT_EQ(settings_error({{"network", {{"learned_metric", 1}}}}),
            "plan.yaml: training setting 'network.learned_metric' should be boolean, got 1");
  EXPECT_NE(settings_error({{"network", {{"embeding_dim", 8}}}}).find("unknown training setting 'network.embeding_dim'"),
            std::string::npos);
}

TEST(TrainSettingsFuzz, EveryNetworkSettingIsStillAccepted) {
  const TrainConfig config = TrainConfig::from_settings(
      {{"network", {{"arch", "resnet18"}, {"in_channels", 3}, {"num_classes", 5}, {"embedding_dim", 16},
                    {"embedding_relu", false}, {"head_dim", 8}, {"learned_metric", true},
                    {"normalize_before_metric", false}}}},
      "x");
  EXPECT_EQ(config.network.head_dim, 8);
  EXPECT_FALSE(config.network.normalize_before_metric);
}

TEST(TrainSettingsFuzz, ValueWithInvalidUtf8IsShownNotThrownOn) {  // json::type_error 316 from dump()
  EXPECT_EQ(settings_error({{"lr", std::string("6\x89") + "4"}}),
            "plan.yaml: training setting 'lr' should be number, got \"6\xEF\xBF\xBD" "4\"");
  EXPECT_EQ(settings_error({{"network", "\xff"}}), "plan.yaml: training setting 'network' should be object, got \"\xEF\xBF\xBD\"");
}
