// The registry of methods, miners and distances (registry.hpp) and what reads
// it: validation, effective_miner, make_objective, retrieval_metric, the
// comparison table's columns and the help texts.
#include "imret/learn/registry.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "imret/core/error.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/learn/objective.hpp"
#include "imret/learn/trainer.hpp"

using namespace imret;
using namespace imret::learn;

namespace {

// The UsageError message of config.validate(), or "" when it passes.
std::string validation_error(const TrainConfig& config) {
  try {
    config.validate();
    return "";
  } catch (const UsageError& e) {
    return e.what();
  }
}

TrainConfig with_method(const std::string& method) {
  TrainConfig config;
  config.method = method;
  return config;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

}  // namespace

TEST(Registry, NamesAreUniqueAndEveryDescriptorIsComplete) {
  const std::vector<std::string> names = method_names();
  for (const std::string& name : names) EXPECT_EQ(std::count(names.begin(), names.end(), name), 1) << name;
  for (const MethodDescriptor* m : methods()) {
    SCOPED_TRACE(m->name);
    EXPECT_FALSE(m->help.empty());
    EXPECT_EQ(static_cast<bool>(m->make_loss), !m->trains_classifier);
    if (m->tuples == TupleShape::None) EXPECT_TRUE(m->default_miner.empty());
    if (!m->default_miner.empty()) EXPECT_NO_THROW(find_miner(m->default_miner, m->tuples));
    if (!m->own_distance.empty()) EXPECT_NO_THROW(find_distance(m->own_distance));
    if (m->offline) EXPECT_NE(m->tuples, TupleShape::None);
    const nlohmann::json settings = TrainConfig().to_json();
    for (const std::string& key : m->settings) EXPECT_TRUE(settings.contains(key)) << key;
    for (const std::string& key : m->switches) EXPECT_TRUE(contains(m->settings, key)) << key;
    if (!m->margin_setting.empty()) EXPECT_TRUE(contains(m->settings, m->margin_setting));
  }
  for (const MinerDescriptor* m : miners()) {
    SCOPED_TRACE(m->name);
    EXPECT_EQ(static_cast<bool>(m->make_triplet_miner), m->tuples == TupleShape::Triplets);
    EXPECT_EQ(static_cast<bool>(m->make_pair_miner), m->tuples == TupleShape::Pairs);
  }
  for (const DistanceDescriptor* d : distances()) EXPECT_TRUE(d->make) << d->name;
}

TEST(Registry, BuiltInNamesAreThoseTheCommandLineAlwaysTook) {
  for (const char* method : {"classification", "siamese", "triplet", "quadruplet", "multi-similarity", "proxy-anchor"})
    EXPECT_TRUE(contains(method_names(), method)) << method;
  EXPECT_EQ(distance_names(), (std::vector<std::string>{"euclidean", "squared-euclidean", "cosine", "mahalanobis"}));
  EXPECT_EQ(miner_names(TupleShape::Triplets),
            (std::vector<std::string>{"all", "batch-hard", "semi-hard", "semi-hard-hardest", "random-hard",
                                      "distance-weighted", "easy-positive"}));
  EXPECT_EQ(miner_names(TupleShape::Pairs), (std::vector<std::string>{"all", "hard-negative", "hardest-negative"}));
}

TEST(Registry, UnknownNamesAreUsageErrorsListingTheKnownOnes) {
  try {
    find_method("arcface");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("method 'arcface': expected one of classification, siamese, ", 0), 0u)
        << e.what();
  }
  try {
    find_distance("manhattan");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "distance 'manhattan': expected euclidean, squared-euclidean, cosine or mahalanobis");
  }
  try {
    make_pair_miner("batch-hard");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "unknown pair miner 'batch-hard' (expected all, hard-negative or hardest-negative)");
  }
  // make_distance builds the distances a loss computes; the learned one comes with the network.
  EXPECT_THROW(make_distance("mahalanobis"), UsageError);
  EXPECT_EQ(make_distance("squared-euclidean")->name(), "squared-euclidean");
  EXPECT_EQ(or_list({}), "");
  EXPECT_EQ(or_list({"a"}), "a");
  EXPECT_EQ(or_list({"a", "b", "c"}), "a, b or c");
}

TEST(Registry, EffectiveMinerIsTheGivenOneOrTheMethodsDefault) {
  const std::vector<std::pair<std::string, std::string>> defaults = {
      {"classification", "-"}, {"siamese", "all"},          {"triplet", "batch-hard"},
      {"quadruplet", "batch-hard"}, {"multi-similarity", "-"}, {"proxy-anchor", "-"}};
  for (const auto& [method, miner] : defaults) EXPECT_EQ(effective_miner(with_method(method)), miner) << method;
  TrainConfig config = with_method("multi-similarity");
  config.miner = "hard-negative";
  EXPECT_EQ(effective_miner(config), "hard-negative");
  config = with_method("proxy-anchor");  // mines nothing, whatever is given
  config.miner = "batch-hard";
  EXPECT_EQ(effective_miner(config), "-");
  config = with_method("siamese");
  config.tuples = "offline";
  EXPECT_EQ(effective_miner(config), "offline");
}

TEST(Registry, ValidationReadsTheDescriptors) {
  using nlohmann::json;
  // Settings -> validate()'s message ("" when valid), naming the settings as
  // the library spells them. The first four are the messages the end-to-end
  // tests look for (with options for settings: CombinationsNameEverySetting).
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"method", "quadruplet"}, {"tuples", "offline"}},
       "tuples offline: pairs for method siamese or triplets for method triplet"},
      {{{"method", "siamese"}, {"soft_margin", true}}, "soft_margin applies to method triplet only"},
      {{{"method", "proxy-anchor"}, {"distance", "mahalanobis"}},
       "method proxy-anchor compares by cosine similarity; distance mahalanobis does not apply"},
      {{{"method", "triplet"}, {"tuples", "offline"}, {"miner", "all"}},
       "tuples offline uses the drawn tuples as they are: leave out miner"},
      {{{"method", "triplet"}, {"soft_margin", true}}, ""},
      {{{"method", "proxy-anchor"}, {"distance", "cosine"}}, ""},
      {{{"method", "knn"}},
       "method 'knn': expected one of " + [] {
         std::string list;
         for (const std::string& name : method_names()) list += (list.empty() ? "" : ", ") + name;
         return list;
       }()},
      {{{"method", "triplet"}, {"distance", "l1"}},
       "distance 'l1': expected euclidean, squared-euclidean, cosine or mahalanobis"},
      // A miner of the other shape is refused before training starts.
      {{{"method", "siamese"}, {"miner", "semi-hard"}},
       "unknown pair miner 'semi-hard' (expected all, hard-negative or hardest-negative)"},
      {{{"method", "triplet"}, {"miner", "semi-hard"}}, ""},
      {{{"method", "classification"}, {"miner", "semi-hard"}}, ""},  // takes no miner: ignored, as before
  };
  for (const auto& [settings, message] : cases)
    EXPECT_EQ(validation_error(TrainConfig::from_settings(settings, "test")), message) << settings.dump();
}

// A front end renames every setting a combination error names, not only the first.
TEST(Registry, CombinationsNameEverySetting) {
  TrainConfig config = with_method("siamese");
  config.tuples = "offline";
  config.miner = "all";
  const auto as_option = [](const std::string& setting) {
    std::string option = "--" + setting;
    std::replace(option.begin(), option.end(), '_', '-');
    return option;
  };
  try {
    config.validate();
    ADD_FAILURE() << "validate() accepted a miner with offline tuples";
  } catch (const SettingError& e) {
    EXPECT_EQ(e.setting(), "tuples");
    EXPECT_EQ(e.message(as_option), "--tuples offline uses the drawn tuples as they are: leave out --miner");
  }
  config = with_method("classification");
  config.classes_per_batch = 1;
  config.images_per_class = 4;
  EXPECT_EQ(validation_error(config), "");  // classification draws no classes per batch
  config = with_method("triplet");
  config.classes_per_batch = 1;
  try {
    config.validate();
    ADD_FAILURE() << "validate() accepted one class per batch";
  } catch (const SettingError& e) {
    EXPECT_EQ(e.message(as_option), "--classes-per-batch and --images-per-class must be at least 2 for metric learning");
  }
}

// The rule retrieval_metric had before the registry, written out.
static search::Metric old_retrieval_metric(const TrainConfig& config) {
  const bool raw = config.method != "classification" &&
                   (config.distance == "mahalanobis" || (!config.normalize && config.distance != "cosine"));
  return raw ? search::Metric::Euclidean : search::Metric::Cosine;
}

TEST(Registry, RetrievalMetricFollowsTheMethodAndTheDistance) {
  int combinations = 0;
  for (const std::string& method : method_names())
    for (const std::string& distance : distance_names())
      for (bool normalize : {true, false}) {
        TrainConfig config = with_method(method);
        config.distance = distance;
        config.normalize = normalize;
        EXPECT_EQ(retrieval_metric(config), old_retrieval_metric(config)) << method << ' ' << distance << ' ' << normalize;
        ++combinations;
      }
  EXPECT_GE(combinations, 6 * 4 * 2);
  TrainConfig raw = with_method("triplet");
  raw.normalize = false;
  EXPECT_EQ(retrieval_metric(raw), search::Metric::Euclidean);
}

TEST(Registry, ComparisonColumnsShowTheLossesOwnSettings) {
  EXPECT_EQ(table_distance(with_method("classification")), "-");
  EXPECT_EQ(table_margin(with_method("classification")), "-");
  TrainConfig config = with_method("siamese");
  config.distance = "squared-euclidean";
  config.margin = 0.35;
  EXPECT_EQ(table_distance(config), "squared-euclidean");
  EXPECT_EQ(table_margin(config), "0.35");
  config.method = "multi-similarity";
  EXPECT_EQ(table_distance(config), "cosine");
  EXPECT_EQ(table_margin(config), "-");
  config = with_method("triplet");  // the default 0.2 as the table always showed it
  EXPECT_EQ(table_margin(config), "0.2");
}

TEST(Registry, EveryMetricMethodBuildsAnObjectiveThatComputesALoss) {
  torch::manual_seed(3);
  const torch::Tensor embeddings = torch::randn({8, 4});
  const torch::Tensor labels = torch::tensor(std::vector<int64_t>{0, 0, 1, 1, 2, 2, 3, 3});
  for (const MethodDescriptor* m : methods()) {
    if (m->trains_classifier) continue;
    SCOPED_TRACE(m->name);
    TrainConfig config = with_method(m->name);
    auto objective = make_objective(config, 4, 4);
    const StepLoss step = objective->loss_on_embeddings(embeddings, labels);
    EXPECT_TRUE(std::isfinite(step.loss.item<double>()));
    EXPECT_GT(step.tuples, 0);
  }
  EXPECT_THROW(make_objective(with_method("classification"), 4, 4)->loss_on_embeddings(embeddings, labels),
               UsageError);
}

TEST(Registry, HelpTextsNameEveryChoice) {
  for (const std::string& name : method_names()) EXPECT_NE(methods_help().find(name + ": "), std::string::npos);
  for (const std::string& name : distance_names()) EXPECT_NE(distances_help().find(name), std::string::npos);
  const std::string miners = miners_help();
  EXPECT_NE(miners.find("batch-hard (triplet, quadruplet default)"), std::string::npos) << miners;
  EXPECT_NE(miners.find("pairs: all (siamese default), hard-negative, hardest-negative"), std::string::npos) << miners;
}
