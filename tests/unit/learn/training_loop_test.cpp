// The pieces of the training loop (training_loop.hpp, batch_source.hpp,
// training_hooks.hpp): run_epochs with a stand-in source, step and hooks; the
// batch sources against the samplers the trainer always drew its batches from;
// the best-epoch hook's early stopping.
#include "imret/learn/training_loop.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "imret/core/error.hpp"
#include "imret/data/pk_sampler.hpp"
#include "imret/data/random.hpp"
#include "imret/data/tuple_sampler.hpp"
#include "imret/learn/batch_source.hpp"
#include "imret/learn/training_hooks.hpp"
#include "small_runs.hpp"

using namespace imret;
using namespace imret::learn;

namespace {

// `batches` batches of `size` one-pixel images per epoch.
class CountedSource : public BatchSource {
 public:
  CountedSource(int64_t batches, int64_t size) : batches_(batches), size_(size) {}
  int64_t start_epoch(int64_t epoch) override {
    epochs.push_back(epoch);
    left_ = batches_;
    return batches_ * size_;
  }
  std::optional<TrainingBatch> next() override {
    if (left_ == 0) return std::nullopt;
    --left_;
    TrainingBatch batch;
    batch.images = torch::zeros({size_, 1, 1, 1});
    batch.labels = torch::zeros({size_}, torch::kLong);
    return batch;
  }
  std::string description() const override { return "counted"; }
  std::vector<int64_t> epochs;

 private:
  int64_t batches_, size_, left_ = 0;
};

// A step whose loss is the epoch number plus the batch number within it;
// it reports 10 tuples of which 4 non-zero per batch, and 1 correct image.
class RecordingStep : public TrainingStep {
 public:
  void start_epoch(int64_t epoch, EpochRecord& record) override {
    epoch_ = epoch;
    batch_ = 0;
    record.lr = 0.1 * static_cast<double>(epoch + 1);
  }
  StepLoss run(const TrainingBatch&) override {
    ++calls;
    StepLoss step;
    step.loss = torch::tensor(static_cast<double>(epoch_ + batch_++));
    step.tuples = 10;
    step.nonzero = 4;
    step.correct = 1;
    return step;
  }
  int64_t calls = 0;

 private:
  int64_t epoch_ = 0, batch_ = 0;
};

// Sees every call; stops before epoch `stop_before` and sets val_map_at_r in measure.
class WatchingHook : public EpochHook {
 public:
  explicit WatchingHook(int64_t stop_before) : stop_before_(stop_before) {}
  bool before_epoch(int64_t epoch) override {
    calls.push_back("before " + std::to_string(epoch));
    return epoch != stop_before_;
  }
  void measure(EpochRecord& record) override {
    calls.push_back("measure " + std::to_string(record.epoch));
    record.val_map_at_r = 0.5;
  }
  void after_epoch(const EpochRecord& record, const std::vector<EpochRecord>& history) override {
    calls.push_back("after " + std::to_string(record.epoch) + " of " + std::to_string(history.size()));
  }
  std::vector<std::string> calls;

 private:
  int64_t stop_before_;
};

EpochRecord validated(int64_t epoch, double map_at_r) {
  EpochRecord r;
  r.epoch = epoch;
  r.val_map_at_r = map_at_r;
  return r;
}

}  // namespace

TEST(TrainingLoop, ACustomStepAndHookSeeEveryEpochAndTheHookStopsTraining) {
  CountedSource source(3, 4);
  RecordingStep step;
  WatchingHook hook(/*stop_before=*/3);
  std::vector<EpochRecord> history;
  run_epochs({0, 5, /*metric_learning=*/true}, source, step, {&hook}, history);
  EXPECT_EQ(source.epochs, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(step.calls, 9);
  EXPECT_EQ(hook.calls, (std::vector<std::string>{"before 0", "measure 1", "after 1 of 1", "before 1", "measure 2",
                                                  "after 2 of 2", "before 2", "measure 3", "after 3 of 3",
                                                  "before 3"}));
  ASSERT_EQ(history.size(), 3u);
  const EpochRecord& third = history[2];
  EXPECT_EQ(third.epoch, 3);
  EXPECT_DOUBLE_EQ(third.lr, 0.3);
  EXPECT_DOUBLE_EQ(third.train_loss, (2.0 + 3.0 + 4.0) / 3);  // the batches' mean, weighted by their images
  EXPECT_DOUBLE_EQ(third.tuples_per_batch, 10.0);
  EXPECT_DOUBLE_EQ(third.nonzero_fraction, 0.4);
  EXPECT_TRUE(std::isnan(third.train_accuracy));
  EXPECT_DOUBLE_EQ(third.val_map_at_r, 0.5);  // what measure() added
  EXPECT_GT(third.images_per_second, 0.0);
}

TEST(TrainingLoop, ResumesAfterTheGivenEpochAndRecordsAccuracyForAClassifier) {
  CountedSource source(2, 4);
  RecordingStep step;
  std::vector<EpochRecord> history = {validated(1, 0.1), validated(2, 0.2)};
  run_epochs({2, 4, /*metric_learning=*/false}, source, step, {}, history);
  EXPECT_EQ(source.epochs, (std::vector<int64_t>{2, 3}));
  ASSERT_EQ(history.size(), 4u);
  EXPECT_EQ(history[3].epoch, 4);
  EXPECT_DOUBLE_EQ(history[3].train_accuracy, 0.25);  // one correct image of four, every batch
  EXPECT_TRUE(std::isnan(history[3].tuples_per_batch));
}

TEST(TrainingLoop, AnEpochWithoutImagesIsAnError) {
  CountedSource source(0, 4);
  RecordingStep step;
  std::vector<EpochRecord> history;
  EXPECT_THROW(run_epochs({0, 1, false}, source, step, {}, history), Error);
}

TEST(BestEpochHook, FollowsValidationMapAtRAndStopsAfterEarlyStopEpochsWithoutGain) {
  BestEpochHook best(/*early_stop=*/2, {validated(1, 0.3)});  // resumed after a first epoch
  std::vector<EpochRecord> history;
  EXPECT_TRUE(best.before_epoch(1));
  best.after_epoch(validated(2, 0.4), history);
  EXPECT_TRUE(best.last_was_best());
  best.after_epoch(validated(3, 0.4), history);  // not better: equal
  EXPECT_FALSE(best.last_was_best());
  EXPECT_TRUE(best.before_epoch(3));
  best.after_epoch(validated(4, 0.35), history);
  EXPECT_FALSE(best.before_epoch(4));  // two epochs without gain
  // Without validation every epoch is the best; no early stop without the setting.
  BestEpochHook unvalidated(0, {});
  unvalidated.after_epoch(validated(1, NAN), history);
  EXPECT_TRUE(unvalidated.last_was_best());
  unvalidated.after_epoch(validated(2, 0.1), history);
  unvalidated.after_epoch(validated(3, 0.05), history);
  EXPECT_FALSE(unvalidated.last_was_best());
  EXPECT_TRUE(unvalidated.before_epoch(3));
}

namespace {

// n items of one 4 x 4 grey image each, label i % classes.
class TinyDataset : public data::Dataset {
 public:
  TinyDataset(int64_t n, int64_t classes) : n_(n) {
    for (int64_t c = 0; c < classes; ++c) classes_.push_back("c" + std::to_string(c));
  }
  int64_t size() const override { return n_; }
  int64_t label(int64_t i) const override { return i % static_cast<int64_t>(classes_.size()); }
  const std::vector<std::string>& classes() const override { return classes_; }
  std::string source(int64_t i) const override { return "tiny/" + std::to_string(i); }
  int64_t channels() const override { return 1; }
  at::Tensor load(int64_t i) const override { return torch::full({1, 4, 4}, static_cast<float>(i) / 100.0f); }

 private:
  int64_t n_;
  std::vector<std::string> classes_;
};

TrainConfig tiny_config(const std::string& method) {
  TrainConfig config = imret::testing::small_config();  // grey images, as they are
  config.method = method;
  config.classes_per_batch = 3;
  config.images_per_class = 4;
  config.batch_size = 8;
  config.seed = 9;
  return config;
}

// Every batch of epoch `epoch`: its dataset indices (and tuple rows).
std::vector<TrainingBatch> epoch_of(BatchSource& source, int64_t epoch) {
  source.start_epoch(epoch);
  std::vector<TrainingBatch> batches;
  while (auto batch = source.next()) batches.push_back(std::move(*batch));
  return batches;
}

}  // namespace

TEST(BatchSource, PKBatchesAreThoseOfThePKSamplerForTheSeed) {
  auto train = std::make_shared<TinyDataset>(60, 5);
  const TrainConfig config = tiny_config("triplet");
  auto source = make_batch_source(config, train, torch::kCPU, std::make_shared<data::BadImageLog>());
  EXPECT_EQ(source->description(), "P x K = 3 x 4 batches");
  data::PKSampler sampler(train->labels(), 3, 4, config.seed);
  for (int64_t epoch : {0, 1}) {
    const auto expected = sampler.epoch_batches(epoch);
    const auto batches = epoch_of(*source, epoch);
    ASSERT_EQ(batches.size(), expected.size());
    for (size_t b = 0; b < batches.size(); ++b) {
      EXPECT_EQ(batches[b].indices, expected[b]) << epoch << ' ' << b;
      std::vector<int64_t> labels(batches[b].labels.data_ptr<int64_t>(),
                                  batches[b].labels.data_ptr<int64_t>() + batches[b].labels.numel());
      for (size_t r = 0; r < labels.size(); ++r) EXPECT_EQ(labels[r], train->label(batches[b].indices[r]));
      EXPECT_FALSE(batches[b].tuple_rows.defined());
    }
  }
}

TEST(BatchSource, OfflineBatchesCarryTheDrawnTuplesAsRows) {
  auto train = std::make_shared<TinyDataset>(30, 3);
  TrainConfig config = tiny_config("triplet");
  config.tuples = "offline";
  auto source = make_batch_source(config, train, torch::kCPU, std::make_shared<data::BadImageLog>());
  EXPECT_EQ(source->description(), "offline triplets, 8 a batch");
  const int64_t epoch = 1;
  const auto tuples =
      data::offline_tuples(train->labels(), data::TupleKind::Triplet, data::derive_seed(config.seed, 0x747570, epoch));
  std::vector<std::vector<int64_t>> seen;  // the tuples, as dataset indices
  for (const TrainingBatch& batch : epoch_of(*source, epoch)) {
    ASSERT_TRUE(batch.tuple_rows.defined());
    ASSERT_EQ(batch.tuple_rows.size(1), 3);
    for (int64_t t = 0; t < batch.tuple_rows.size(0); ++t) {
      std::vector<int64_t> tuple;
      for (int64_t k = 0; k < 3; ++k) tuple.push_back(batch.indices[batch.tuple_rows[t][k].item<int64_t>()]);
      seen.push_back(tuple);
    }
  }
  EXPECT_EQ(seen, tuples);  // every drawn tuple, in order
  EXPECT_EQ(seen.size(), 30u);
}

TEST(BatchSource, ClassificationShufflesEveryImageOnceAnEpoch) {
  auto train = std::make_shared<TinyDataset>(40, 4);
  auto source =
      make_batch_source(tiny_config("classification"), train, torch::kCPU, std::make_shared<data::BadImageLog>());
  EXPECT_EQ(source->description(), "batch 8");
  std::vector<int64_t> order;
  for (const TrainingBatch& batch : epoch_of(*source, 0)) order.insert(order.end(), batch.indices.begin(), batch.indices.end());
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> all(40);
  for (int64_t i = 0; i < 40; ++i) all[static_cast<size_t>(i)] = i;
  EXPECT_EQ(sorted, all);
  EXPECT_NE(order, all);  // shuffled
  std::vector<int64_t> again;
  for (const TrainingBatch& batch : epoch_of(*source, 0)) again.insert(again.end(), batch.indices.begin(), batch.indices.end());
  EXPECT_EQ(again, order);  // the same seed and epoch: the same order
}
