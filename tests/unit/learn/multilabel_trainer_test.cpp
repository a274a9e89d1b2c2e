// Training on multi-label images: a synthetic in-memory dataset whose images
// hold one or two of six textures (one per half), as COCO images hold objects.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <iostream>
#include <random>

#include "imret/core/error.hpp"
#include "imret/eval/evaluate.hpp"
#include "imret/eval/relevance.hpp"
#include "imret/learn/trainer.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/models/embed.hpp"
#include "small_runs.hpp"

namespace fs = std::filesystem;
using namespace imret;

namespace {

constexpr int64_t kSide = 28;

// 1 x 28 x 28 images; each half (left: columns 0-13, right: 14-27) shows one
// of six textures with a random phase, or (one image in twelve) nothing but
// noise. objects(i): how many halves show each texture; label(i): the
// texture of most halves (ties: the lower), -1 without objects.
class TextureDataset : public data::Dataset {
 public:
  TextureDataset(int64_t n, uint64_t seed) {
    for (int c = 0; c < 6; ++c) classes_.push_back("texture" + std::to_string(c));
    std::mt19937_64 rng(seed);
    images_ = torch::empty({n, 1, kSide, kSide});
    auto pixels = images_.accessor<float, 4>();
    for (int64_t i = 0; i < n; ++i) {
      const bool empty = i % 12 == 11;
      const int left = static_cast<int>(rng() % 6), right = rng() % 3 == 0 ? left : static_cast<int>(rng() % 6);
      ObjectCounts objects;
      if (!empty) objects = normalized_object_counts({{left, 1}, {right, 1}}, "texture image");
      objects_.push_back(objects);
      const int64_t dy = static_cast<int64_t>(rng() % 6), dx = static_cast<int64_t>(rng() % 6);  // random phase
      for (int64_t y = 0; y < kSide; ++y)
        for (int64_t x = 0; x < kSide; ++x) {
          const int texture = x < kSide / 2 ? left : right;
          const float noise = static_cast<float>(rng() % 1000) / 1000.0f * 0.3f;
          const float value = empty ? 0.35f : pattern(texture, y + dy, x + dx);
          pixels[i][0][y][x] = value * 0.7f + noise;
        }
    }
  }

  int64_t size() const override { return images_.size(0); }
  int64_t label(int64_t i) const override {
    const ObjectCounts& o = objects_[static_cast<size_t>(i)];
    if (o.empty()) return -1;
    const ObjectCount* best = &o.front();
    for (const auto& x : o)
      if (x.count > best->count) best = &x;
    return best->category;
  }
  bool has_objects() const override { return true; }
  ObjectCounts objects(int64_t i) const override { return objects_[static_cast<size_t>(i)]; }
  const std::vector<std::string>& classes() const override { return classes_; }
  std::string source(int64_t i) const override { return "textures#" + std::to_string(i); }
  int64_t channels() const override { return 1; }
  at::Tensor load(int64_t i) const override { return images_[i].clone(); }
  at::Tensor load_many(const std::vector<int64_t>& indices) const override {
    return images_.index_select(0, torch::tensor(indices, torch::kLong));
  }
  bool in_memory() const override { return true; }

 private:
  static float pattern(int texture, int64_t y, int64_t x) {
    switch (texture) {
      case 0: return (y / 2) % 2 ? 1.0f : 0.0f;              // horizontal stripes
      case 1: return (x / 2) % 2 ? 1.0f : 0.0f;              // vertical stripes
      case 2: return ((x / 3) + (y / 3)) % 2 ? 1.0f : 0.0f;  // checkerboard
      case 3: return ((x + y) / 2) % 2 ? 1.0f : 0.0f;        // diagonal stripes
      case 4: return (x % 4 == 0 && y % 4 == 0) ? 1.0f : 0.0f;  // dots
      default: return 0.9f;                                   // flat bright
    }
  }

  std::vector<std::string> classes_;
  std::vector<ObjectCounts> objects_;
  at::Tensor images_;
};

learn::TrainConfig texture_config() {
  learn::TrainConfig config = imret::testing::small_config();
  config.network = {"convnet", 1, 6, 16};
  config.preprocess.mean = {0.5};
  config.preprocess.std = {0.3};
  config.classes_per_batch = 4;
  config.images_per_class = 8;
  config.val_fraction = 0.2;
  return config;
}

// Selection mAP (relevant = shares a texture) of `network` on `test`.
double selection_map(models::Network& network, const std::shared_ptr<const data::Dataset>& test,
                     const learn::TrainConfig& config) {
  models::EmbedOptions options;
  options.workers = 0;
  const auto embedded = models::embed_dataset(network, test, data::make_eval_transform(config.preprocess), options);
  const auto objects = test->all_objects();
  const eval::ObjectRelevance relevance(objects, objects, eval::ObjectRelevanceMode::Selection, true);
  eval::MetricOptions metric_options;
  metric_options.ks = {1};
  return eval::evaluate_retrieval(embedded.values, embedded.values, learn::retrieval_metric(config), relevance,
                                  metric_options)
      .summary.mean_average_precision;
}

fs::path temp_dir(const std::string& name) { return imret::testing::fresh_run_dir("multilabel_trainer_test", name); }

}  // namespace

TEST(MultiLabelTrainer, TripletTrainingBeatsTheUntrainedNetworkOnSelectionMap) {
  auto train = std::make_shared<TextureDataset>(480, 1);
  auto test = std::make_shared<TextureDataset>(240, 2);
  learn::TrainConfig config = texture_config();
  config.method = "triplet";
  config.miner = "batch-hard";
  config.epochs = 3;
  const fs::path run = temp_dir("triplet");
  const auto result = learn::train_embedding(config, train, run);
  ASSERT_EQ(result.history.size(), 3u);
  // Batch-hard: one triplet per anchor of a P x K batch (every anchor has
  // positives in its group and, with 4 of 6 textures, negatives elsewhere).
  EXPECT_GT(result.history[0].tuples_per_batch, 20.0);
  EXPECT_LE(result.history[0].tuples_per_batch, 32.0);
  EXPECT_TRUE(std::isfinite(result.history[2].val_map_at_r));

  const auto trained = models::load_checkpoint(result.last_checkpoint);
  torch::manual_seed(config.seed);  // the trainer's initial network
  auto untrained = models::make_network(trained.info.spec);
  const double before = selection_map(*untrained, test, config);
  const double after = selection_map(*trained.network, test, config);
  std::cout << "selection mAP on the test textures: untrained " << before << ", trained " << after << "\n";
  EXPECT_GT(after, before + 0.1);
}

TEST(MultiLabelTrainer, EveryMethodRunsOnObjects) {
  auto train = std::make_shared<TextureDataset>(240, 3);
  for (const std::string method : {"classification", "siamese", "quadruplet", "multi-similarity", "proxy-anchor"}) {
    learn::TrainConfig config = texture_config();
    config.method = method;
    config.epochs = 1;
    config.positive_overlap = method == "siamese" ? 0.5 : 0.0;
    config.negatives = method == "quadruplet" ? "below-overlap" : "disjoint";
    const auto result = learn::train_embedding(config, train, temp_dir(method));
    ASSERT_EQ(result.history.size(), 1u) << method;
    EXPECT_TRUE(std::isfinite(result.history[0].train_loss)) << method;
    EXPECT_TRUE(std::isfinite(result.history[0].val_map_at_r)) << method;
    if (method == "classification") {
      EXPECT_GE(result.history[0].val_accuracy, 0.0);  // exact sets of textures
      EXPECT_TRUE(std::isfinite(result.history[0].val_loss));
    } else {
      EXPECT_GT(result.history[0].tuples_per_batch, 0.0) << method;
    }
  }
}

TEST(MultiLabelTrainer, OfflineTuplesNeedSingleLabels) {
  learn::TrainConfig config = texture_config();
  config.method = "triplet";
  config.tuples = "offline";
  EXPECT_THROW(learn::train_embedding(config, std::make_shared<TextureDataset>(60, 4), temp_dir("offline")),
               UsageError);
}
