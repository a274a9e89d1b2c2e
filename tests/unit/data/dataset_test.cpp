#include <gtest/gtest.h>

#include <map>

#include "imret/data/dataset.hpp"
#include "test_util.hpp"

using namespace imret::data;
using imret::data::testing::FakeDataset;
using imret::data::testing::throws_with;

TEST(Dataset, LabelsListsEveryLabel) {
  FakeDataset d(7, 3);
  EXPECT_EQ(d.labels(), (std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0}));
}

TEST(Dataset, DefaultLoadManyStacksItems) {
  FakeDataset d(5);
  auto batch = d.load_many({4, 1});
  ASSERT_EQ(batch.sizes(), (std::vector<int64_t>{2, 1, 2, 2}));
  EXPECT_EQ(batch[0].max().item<float>(), 4.0f);
  EXPECT_EQ(batch[1].max().item<float>(), 1.0f);
}

TEST(Dataset, DefaultLoadManyRejectsMixedSizesNamingItems) {
  FakeDataset d(5);
  d.odd_size_item = 3;
  EXPECT_TRUE(throws_with<imret::Error>([&] { d.load_many({0, 3}); }, "fake/3.png"));
}

TEST(Subset, MapsItemsToTheBase) {
  auto base = std::make_shared<FakeDataset>(10, 3);
  auto view = subset(base, {9, 2, 4});
  EXPECT_EQ(view->size(), 3);
  EXPECT_EQ(view->label(0), 0);  // 9 % 3
  EXPECT_EQ(view->label(1), 2);
  EXPECT_EQ(view->source(2), "fake/4.png");
  EXPECT_EQ(view->load(1).max().item<float>(), 2.0f);
  EXPECT_EQ(view->load_many({0, 2})[1].max().item<float>(), 4.0f);
  EXPECT_EQ(view->classes(), base->classes());
  EXPECT_THROW(view->load(3), imret::Error);
  EXPECT_THROW(subset(base, {10}), imret::Error);
  EXPECT_THROW(subset(base, {-1}), imret::Error);
}

TEST(Subset, KeepsInMemoryFlag) {
  EXPECT_TRUE(subset(std::make_shared<FakeDataset>(4, 2, true), {1})->in_memory());
  EXPECT_FALSE(subset(std::make_shared<FakeDataset>(4, 2, false), {1})->in_memory());
}

TEST(StratifiedSplit, HoldsOutTheFractionOfEachClass) {
  FakeDataset d(300, 3);  // 100 per class
  auto [kept, held] = stratified_split(d, 0.2, 7);
  EXPECT_EQ(kept.size(), 240u);
  EXPECT_EQ(held.size(), 60u);
  std::map<int64_t, int> held_per_class;
  for (auto i : held) ++held_per_class[d.label(i)];
  EXPECT_EQ(held_per_class, (std::map<int64_t, int>{{0, 20}, {1, 20}, {2, 20}}));
  std::vector<int64_t> all(kept);
  all.insert(all.end(), held.begin(), held.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 300; ++i) ASSERT_EQ(all[static_cast<size_t>(i)], i);
  EXPECT_TRUE(std::is_sorted(kept.begin(), kept.end()));
  EXPECT_TRUE(std::is_sorted(held.begin(), held.end()));
}

TEST(StratifiedSplit, IsDeterministicPerSeed) {
  FakeDataset d(300, 3);
  EXPECT_EQ(stratified_split(d, 0.1, 1), stratified_split(d, 0.1, 1));
  EXPECT_NE(stratified_split(d, 0.1, 1).second, stratified_split(d, 0.1, 2).second);
}

TEST(StratifiedSplit, EdgeFractions) {
  FakeDataset d(10, 2);
  EXPECT_TRUE(stratified_split(d, 0.0, 1).second.empty());
  EXPECT_TRUE(stratified_split(d, 1.0, 1).first.empty());
  EXPECT_THROW(stratified_split(d, -0.1, 1), imret::Error);
  EXPECT_THROW(stratified_split(d, 1.5, 1), imret::Error);
}

TEST(BadImageError, CarriesPathAndReason) {
  BadImageError e("/x/y.jpg", "cannot decode");
  EXPECT_EQ(e.path(), "/x/y.jpg");
  EXPECT_EQ(e.reason(), "cannot decode");
  EXPECT_STREQ(e.what(), "/x/y.jpg: cannot decode");
  const imret::Error& base = e;
  (void)base;
}
