#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <chrono>
#include <set>

#include "imret/data/idx.hpp"
#include "imret/data/loader.hpp"
#include "test_util.hpp"

using namespace imret::data;
using imret::data::testing::FakeDataset;
using imret::data::testing::throws_with;
namespace fs = std::filesystem;

namespace {

LoaderOptions options_with(int64_t batch_size, int workers, bool shuffle = false, uint64_t seed = 0) {
  LoaderOptions o;
  o.batch_size = batch_size;
  o.workers = workers;
  o.shuffle = shuffle;
  o.seed = seed;
  return o;
}

std::vector<Batch> whole_epoch(Loader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> batches;
  while (auto batch = loader.next()) batches.push_back(std::move(*batch));
  return batches;
}

std::vector<int64_t> epoch_indices(Loader& loader, int64_t epoch) {
  std::vector<int64_t> all;
  for (const auto& b : whole_epoch(loader, epoch)) all.insert(all.end(), b.indices.begin(), b.indices.end());
  return all;
}

std::vector<int64_t> batch_sizes(const std::vector<Batch>& batches) {
  std::vector<int64_t> sizes;
  for (const auto& b : batches) sizes.push_back(b.images.size(0));
  return sizes;
}

// Adds noise drawn from the rng: shows which rng each item got.
class NoiseTransform : public Transform {
 public:
  at::Tensor apply(const at::Tensor& image, std::mt19937_64& rng) const override {
    return image + static_cast<float>(rng() % 1000) / 1000.0f;
  }
  std::string describe() const override { return "Noise"; }
};

// Deterministic and batchable: adds 0.5.
class AddHalf : public Transform {
 public:
  at::Tensor apply(const at::Tensor& image, std::mt19937_64&) const override { return image + 0.5f; }
  bool batchable() const override { return true; }
  std::string describe() const override { return "AddHalf"; }
};

// Records the intra-op thread count seen while transforming.
class ThreadCountProbe : public Transform {
 public:
  at::Tensor apply(const at::Tensor& image, std::mt19937_64&) const override {
    seen = at::get_num_threads();
    return image;
  }
  std::string describe() const override { return "ThreadCountProbe"; }
  mutable std::atomic<int> seen{-1};
};

}  // namespace

TEST(Loader, WorkersUseOneIntraOpThreadEach) {
  if (at::get_parallel_info().find("OpenMP") == std::string::npos) GTEST_SKIP() << "not an OpenMP LibTorch";
  const int before = at::get_num_threads();
  at::set_num_threads(2);
  auto probe = std::make_shared<ThreadCountProbe>();
  Loader loader(std::make_shared<FakeDataset>(4), probe, options_with(2, 1));
  whole_epoch(loader, 0);
  EXPECT_EQ(probe->seen.load(), 1);
  EXPECT_EQ(at::get_num_threads(), 2);  // the caller's setting is untouched
  at::set_num_threads(before);
}

TEST(Loader, DeliversEveryItemOnceInOrderWithMatchingContent) {
  for (int workers : {0, 1, 3}) {
    auto data = std::make_shared<FakeDataset>(10, 3);
    Loader loader(data, nullptr, options_with(4, workers));
    EXPECT_EQ(loader.batches_per_epoch(), 3);
    EXPECT_EQ(loader.items_per_epoch(), 10);
    auto batches = whole_epoch(loader, 0);
    EXPECT_EQ(batch_sizes(batches), (std::vector<int64_t>{4, 4, 2})) << workers << " workers";
    int64_t expected = 0;
    for (const auto& b : batches) {
      EXPECT_EQ(b.images.sizes(), (std::vector<int64_t>{static_cast<int64_t>(b.indices.size()), 1, 2, 2}));
      EXPECT_EQ(b.images.scalar_type(), torch::kFloat32);
      EXPECT_EQ(b.labels.scalar_type(), torch::kInt64);
      for (size_t r = 0; r < b.indices.size(); ++r) {
        EXPECT_EQ(b.indices[r], expected++);
        EXPECT_EQ(b.images[static_cast<int64_t>(r)].max().item<float>(), static_cast<float>(b.indices[r]));
        EXPECT_EQ(b.labels[static_cast<int64_t>(r)].item<int64_t>(), b.indices[r] % 3);
      }
    }
    EXPECT_FALSE(loader.next().has_value());  // stays at the end
  }
}

TEST(Loader, GivenBatchesAreDeliveredAsGivenWithTheirContent) {
  for (int workers : {0, 2}) {
    auto data = std::make_shared<FakeDataset>(10, 3);
    Loader loader(data, nullptr, options_with(4, workers, /*shuffle=*/true));
    const std::vector<std::vector<int64_t>> plan = {{7, 7, 1}, {9}, {0, 3, 6, 9, 2}};
    loader.start_epoch(5, plan);
    std::vector<std::vector<int64_t>> delivered;
    while (auto batch = loader.next()) {
      for (size_t r = 0; r < batch->indices.size(); ++r)
        EXPECT_EQ(batch->images[static_cast<int64_t>(r)].max().item<float>(), static_cast<float>(batch->indices[r]));
      delivered.push_back(batch->indices);
    }
    EXPECT_EQ(delivered, plan) << workers << " workers";
  }
  auto data = std::make_shared<FakeDataset>(10, 3);
  Loader loader(data, nullptr, options_with(4, 0));
  EXPECT_THROW(loader.start_epoch(0, {{1, 10}}), imret::Error);
  EXPECT_THROW(loader.start_epoch(0, {{}}), imret::Error);
}

TEST(Loader, DropLastDropsThePartialBatch) {
  auto data = std::make_shared<FakeDataset>(10);
  auto options = options_with(4, 2);
  options.drop_last = true;
  Loader loader(data, nullptr, options);
  EXPECT_EQ(loader.batches_per_epoch(), 2);
  EXPECT_EQ(loader.items_per_epoch(), 8);
  EXPECT_EQ(batch_sizes(whole_epoch(loader, 0)), (std::vector<int64_t>{4, 4}));
  Loader exact(std::make_shared<FakeDataset>(8), nullptr, options);
  EXPECT_EQ(batch_sizes(whole_epoch(exact, 0)), (std::vector<int64_t>{4, 4}));
}

TEST(Loader, ShuffleIsAPermutationDeterministicPerSeedAndEpoch) {
  auto data = std::make_shared<FakeDataset>(103);
  Loader a(data, nullptr, options_with(10, 2, true, 42));
  Loader b(data, nullptr, options_with(10, 3, true, 42));
  Loader c(data, nullptr, options_with(10, 2, true, 43));
  auto a0 = epoch_indices(a, 0);
  auto sorted = a0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 103; ++i) ASSERT_EQ(sorted[static_cast<size_t>(i)], i);
  std::vector<int64_t> identity(sorted);
  EXPECT_NE(a0, identity);
  EXPECT_EQ(a0, epoch_indices(b, 0));   // same seed and epoch, other thread count
  EXPECT_NE(a0, epoch_indices(a, 1));   // another epoch
  EXPECT_EQ(a0, epoch_indices(a, 0));   // back to epoch 0
  EXPECT_NE(a0, epoch_indices(c, 0));   // another seed
}

TEST(Loader, PerItemRandomnessDoesNotDependOnThreads) {
  auto data = std::make_shared<FakeDataset>(50);
  auto noise = std::make_shared<NoiseTransform>();
  Loader serial(data, noise, options_with(7, 0, true, 5));
  Loader parallel(data, noise, options_with(7, 4, true, 5));
  auto s = whole_epoch(serial, 2), p = whole_epoch(parallel, 2);
  ASSERT_EQ(s.size(), p.size());
  for (size_t k = 0; k < s.size(); ++k) EXPECT_TRUE(s[k].images.equal(p[k].images));
  // The noise of an item depends on the epoch too.
  auto next_epoch = whole_epoch(serial, 3);
  std::map<int64_t, float> value_epoch2, value_epoch3;
  for (const auto& b : s)
    for (size_t r = 0; r < b.indices.size(); ++r) value_epoch2[b.indices[r]] = b.images[r].max().item<float>();
  for (const auto& b : next_epoch)
    for (size_t r = 0; r < b.indices.size(); ++r) value_epoch3[b.indices[r]] = b.images[r].max().item<float>();
  EXPECT_NE(value_epoch2, value_epoch3);
}

TEST(Loader, InMemoryDatasetWithBatchableTransformLoadsWholeBatches) {
  auto memory = std::make_shared<FakeDataset>(10, 3, true);
  Loader fast(memory, std::make_shared<AddHalf>(), options_with(4, 2));
  auto batches = whole_epoch(fast, 0);
  EXPECT_EQ(memory->load_manys.load(), 3);
  EXPECT_EQ(batch_sizes(batches), (std::vector<int64_t>{4, 4, 2}));
  EXPECT_FLOAT_EQ(batches[2].images[1].max().item<float>(), 9.5f);
  // A random (non-batchable) transform goes item by item.
  auto memory2 = std::make_shared<FakeDataset>(10, 3, true);
  Loader per_item(memory2, std::make_shared<NoiseTransform>(), options_with(4, 2));
  whole_epoch(per_item, 0);
  EXPECT_EQ(memory2->load_manys.load(), 0);
  EXPECT_EQ(memory2->loads.load(), 10);
}

TEST(Loader, SkipPolicyDropsAndLogsBadImages) {
  auto data = std::make_shared<FakeDataset>(10);
  data->bad = {3, 6, 7};
  auto log = std::make_shared<BadImageLog>();
  Loader loader(data, nullptr, options_with(2, 2), log);
  auto batches = whole_epoch(loader, 0);
  // Batch {6, 7} is all bad: skipped, not returned empty.
  EXPECT_EQ(batch_sizes(batches), (std::vector<int64_t>{2, 1, 2, 2}));
  EXPECT_EQ(batches[1].indices, (std::vector<int64_t>{2}));
  EXPECT_EQ(batches[1].labels.size(0), 1);
  EXPECT_EQ(batches[3].indices, (std::vector<int64_t>{8, 9}));
  EXPECT_EQ(log->count(), 3);
  auto entries = log->entries();
  std::set<std::string> paths;
  for (const auto& [path, reason] : entries) {
    paths.insert(path);
    EXPECT_EQ(reason, "fake corrupt image");
  }
  EXPECT_EQ(paths, (std::set<std::string>{"fake/3.png", "fake/6.png", "fake/7.png"}));
  EXPECT_EQ(loader.bad_images(), log);
}

TEST(Loader, FailPolicyRethrowsTheBadImageError) {
  for (int workers : {0, 2}) {
    auto data = std::make_shared<FakeDataset>(10);
    data->bad = {5};
    auto options = options_with(4, workers);
    options.on_bad_image = BadImagePolicy::Fail;
    Loader loader(data, nullptr, options);
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());  // batch 0..3 is fine
    try {
      loader.next();
      FAIL() << "no exception";
    } catch (const BadImageError& e) {
      EXPECT_EQ(e.path(), "fake/5.png");
    }
    EXPECT_FALSE(loader.next().has_value());  // the epoch is over
    EXPECT_EQ(loader.bad_images()->count(), 0);
    data->bad.clear();
    EXPECT_EQ(epoch_indices(loader, 1).size(), 10u);  // a new epoch works again
  }
}

TEST(Loader, AnyErrorLoadingAnItemIsABadImageOfItsFile) {
  auto data = std::make_shared<FakeDataset>(20);
  data->error_at = 13;  // a plain imret::Error, not a BadImageError
  Loader skipping(data, nullptr, options_with(4, 3));
  EXPECT_EQ(epoch_indices(skipping, 0).size(), 19u);
  EXPECT_EQ(skipping.bad_images()->entries(),
            (std::vector<std::pair<std::string, std::string>>{{"fake/13.png", "fake failure on item 13"}}));
  auto options = options_with(4, 3);
  options.on_bad_image = BadImagePolicy::Fail;
  Loader failing(data, nullptr, options);
  failing.start_epoch(0);
  for (int k = 0; k < 3; ++k) ASSERT_TRUE(failing.next().has_value());
  EXPECT_TRUE(throws_with<BadImageError>([&] { failing.next(); }, "fake/13.png: fake failure on item 13"));
}

TEST(Loader, MixedSizesInABatchNameTheItems) {
  auto data = std::make_shared<FakeDataset>(6);
  data->odd_size_item = 4;
  Loader loader(data, nullptr, options_with(3, 1));
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  EXPECT_TRUE(throws_with<imret::Error>([&] { loader.next(); }, "fake/4.png: image is 1x3x2"));
}

TEST(Loader, NextWithoutStartEpochStartsEpochZero) {
  Loader loader(std::make_shared<FakeDataset>(5), nullptr, options_with(2, 1, true, 9));
  std::vector<int64_t> seen;
  while (auto b = loader.next()) seen.insert(seen.end(), b->indices.begin(), b->indices.end());
  Loader again(std::make_shared<FakeDataset>(5), nullptr, options_with(2, 1, true, 9));
  EXPECT_EQ(seen, epoch_indices(again, 0));
}

TEST(Loader, RestartingMidEpochBeginsAfresh) {
  Loader loader(std::make_shared<FakeDataset>(30), nullptr, options_with(4, 2));
  loader.start_epoch(0);
  loader.next();
  loader.next();
  EXPECT_EQ(epoch_indices(loader, 1).size(), 30u);
}

TEST(Loader, DestructionMidEpochDoesNotWaitForTheEpoch) {
  auto data = std::make_shared<FakeDataset>(400);
  data->delay = std::chrono::milliseconds(5);  // 2 s of loading per worker for the whole epoch
  const auto start = std::chrono::steady_clock::now();
  {
    Loader loader(data, nullptr, options_with(8, 2));
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
  }
  {
    Loader never_read(data, nullptr, options_with(8, 2));
    never_read.start_epoch(0);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 1.0);
  EXPECT_LT(data->loads.load(), 200);
}

TEST(Loader, RejectsBadOptions) {
  auto data = std::make_shared<FakeDataset>(5);
  EXPECT_THROW(Loader(data, nullptr, options_with(0, 1)), imret::UsageError);
  EXPECT_THROW(Loader(data, nullptr, options_with(2, -1)), imret::UsageError);
  EXPECT_THROW(Loader(nullptr, nullptr, options_with(2, 1)), imret::Error);
}

TEST(Loader, EmptyDatasetHasNoBatches) {
  Loader loader(std::make_shared<FakeDataset>(0), nullptr, options_with(4, 2));
  EXPECT_EQ(loader.batches_per_epoch(), 0);
  EXPECT_TRUE(whole_epoch(loader, 0).empty());
}

TEST(BadImagePolicy, Parses) {
  EXPECT_EQ(parse_bad_image_policy("skip"), BadImagePolicy::Skip);
  EXPECT_EQ(parse_bad_image_policy("fail"), BadImagePolicy::Fail);
  EXPECT_THROW(parse_bad_image_policy("ignore"), imret::UsageError);
}

TEST(BadImageLog, IsThreadSafe) {
  BadImageLog log;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&log, t] {
      for (int k = 0; k < 1000; ++k) log.add("p" + std::to_string(t * 1000 + k), "r");
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(log.count(), 4000);
}

TEST(BadImageLog, CountsEachFileOnce) {
  BadImageLog log;
  EXPECT_TRUE(log.add("a.png", "first"));
  EXPECT_TRUE(log.add("b.png", "other"));
  EXPECT_FALSE(log.add("a.png", "second"));
  EXPECT_EQ(log.count(), 2);
  EXPECT_EQ(log.entries(), (std::vector<std::pair<std::string, std::string>>{{"a.png", "first"}, {"b.png", "other"}}));
}

TEST(Loader, ABadImageSeenInEveryEpochIsLoggedOnce) {
  auto data = std::make_shared<FakeDataset>(10);
  data->bad = {4};
  Loader loader(data, nullptr, options_with(3, 2, true, 5));
  for (int64_t epoch = 0; epoch < 3; ++epoch) EXPECT_EQ(epoch_indices(loader, epoch).size(), 9u);
  EXPECT_EQ(loader.bad_images()->count(), 1);
}

TEST(Loader, FashionMnistEpochIsFast) {
  ASSERT_TRUE(fs::exists(fs::path(kDefaultFashionMnist) / "train-images-idx3-ubyte.gz")) << "Fashion-MNIST not installed";
  auto data = load_mnist_folder(kDefaultFashionMnist, "train");
  Preprocess p;
  Loader loader(data, make_eval_transform(p), options_with(256, 2, true, 1));
  const auto start = std::chrono::steady_clock::now();
  int64_t items = 0;
  double checksum = 0;
  loader.start_epoch(0);
  while (auto b = loader.next()) {
    items += b->images.size(0);
    checksum += b->images.sum().item<double>();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("Fashion-MNIST train epoch: %lld items in %.3f s\n", static_cast<long long>(items), seconds);
  EXPECT_EQ(items, 60000);
  // sum((x/255 - 0.5) / 0.5) = 2 * pixel_sum / 255 - N * 784
  EXPECT_NEAR(checksum, 2.0 * 3431114169.0 / 255.0 - 60000.0 * 784.0, 50.0);
  EXPECT_LT(seconds, 2.0);  // well under 1 s on an idle machine; slack for a busy one
}
