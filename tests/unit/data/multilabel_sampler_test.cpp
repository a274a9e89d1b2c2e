#include "imret/data/multilabel_sampler.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "imret/core/error.hpp"

using imret::ObjectCounts;
using imret::data::MultiLabelBatch;
using imret::data::MultiLabelPKSampler;

namespace {

bool holds(const ObjectCounts& objects, int64_t category) {
  return std::any_of(objects.begin(), objects.end(), [&](const auto& o) { return o.category == category; });
}

// A COCO-like skewed set: class 0 ("person") in most images, classes 1..6
// common, class 7 rare (3 images), class 8 in one image; every 10th image
// holds nothing.
std::vector<ObjectCounts> skewed_objects(int64_t n = 400, uint64_t seed = 5) {
  std::mt19937_64 rng(seed);
  std::vector<ObjectCounts> objects(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (i % 10 == 9) continue;
    ObjectCounts& o = objects[static_cast<size_t>(i)];
    if (rng() % 10 < 7) o.push_back({0, static_cast<int32_t>(1 + rng() % 3)});
    for (int32_t c = 1; c <= 6; ++c)
      if (rng() % 5 == 0) o.push_back({c, 1});
    if (i == 17 || i == 130 || i == 271) o.push_back({7, 1});
    if (i == 42) o.push_back({8, 2});
    if (o.empty()) o.push_back({static_cast<int32_t>(1 + i % 6), 1});
  }
  return objects;
}

// Checks the shape of every batch: P distinct classes, K items each holding its class.
void check_plan(const std::vector<MultiLabelBatch>& plan, const std::vector<ObjectCounts>& objects, int64_t p,
                int64_t k) {
  for (const auto& batch : plan) {
    ASSERT_EQ(static_cast<int64_t>(batch.classes.size()), p);
    ASSERT_EQ(static_cast<int64_t>(batch.items.size()), p * k);
    EXPECT_EQ(std::set<int64_t>(batch.classes.begin(), batch.classes.end()).size(), batch.classes.size());
    for (int64_t g = 0; g < p; ++g)
      for (int64_t j = 0; j < k; ++j) {
        const int64_t item = batch.items[static_cast<size_t>(g * k + j)];
        ASSERT_GE(item, 0);
        ASSERT_LT(item, static_cast<int64_t>(objects.size()));
        EXPECT_TRUE(holds(objects[static_cast<size_t>(item)], batch.classes[static_cast<size_t>(g)]))
            << "item " << item << " in the group of class " << batch.classes[static_cast<size_t>(g)];
      }
  }
}

}  // namespace

TEST(MultiLabelPKSampler, EveryBatchHoldsPDistinctClassesWithKImagesContainingEach) {
  const auto objects = skewed_objects();
  const MultiLabelPKSampler sampler(objects, 4, 5, 1);
  EXPECT_EQ(sampler.classes(), 9);
  EXPECT_EQ(sampler.batch_size(), 20);
  EXPECT_EQ(sampler.batches_per_epoch(), 18);  // ceil(360 images with objects / 20)
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    const auto plan = sampler.epoch_plan(epoch);
    EXPECT_EQ(static_cast<int64_t>(plan.size()), sampler.batches_per_epoch());
    check_plan(plan, objects, 4, 5);
    const auto batches = sampler.epoch_batches(epoch);
    ASSERT_EQ(batches.size(), plan.size());
    for (size_t b = 0; b < plan.size(); ++b) EXPECT_EQ(batches[b], plan[b].items);
  }
}

TEST(MultiLabelPKSampler, ClassesComeUpUniformlyRareOnesIncluded) {
  const auto objects = skewed_objects();
  const MultiLabelPKSampler sampler(objects, 4, 5, 2);
  const int64_t slots = sampler.batches_per_epoch() * sampler.p();  // 72 over 9 classes: 8 each
  for (int64_t epoch = 0; epoch < 4; ++epoch) {
    std::map<int64_t, int64_t> batches_with;
    for (const auto& batch : sampler.epoch_plan(epoch))
      for (int64_t c : batch.classes) ++batches_with[c];
    ASSERT_EQ(batches_with.size(), 9u);
    for (const auto& [c, count] : batches_with) {
      EXPECT_GE(count, slots / 9) << "class " << c;
      EXPECT_LE(count, (slots + 8) / 9) << "class " << c;
    }
  }
}

TEST(MultiLabelPKSampler, UnevenSchedulesGiveEveryClassFloorOrCeilOfItsShare) {
  // 7 classes, P = 3: 10 batches x 3 = 30 slots, 30 / 7 = 4.29 -> 4 or 5 each,
  // across pass boundaries that fall inside batches.
  std::vector<ObjectCounts> objects;
  for (int32_t i = 0; i < 140; ++i) {
    const int32_t a = i % 7, b = (i + 3) % 7;
    objects.push_back({{std::min(a, b), 1}, {std::max(a, b), 1}});
  }
  const MultiLabelPKSampler sampler(objects, 3, 5, 9);
  EXPECT_EQ(sampler.batches_per_epoch(), 10);
  for (int64_t epoch = 0; epoch < 5; ++epoch) {
    const auto plan = sampler.epoch_plan(epoch);
    check_plan(plan, objects, 3, 5);
    std::map<int64_t, int64_t> batches_with;
    for (const auto& batch : plan)
      for (int64_t c : batch.classes) ++batches_with[c];
    ASSERT_EQ(batches_with.size(), 7u);
    for (const auto& [c, count] : batches_with) {
      EXPECT_GE(count, 4) << "class " << c;
      EXPECT_LE(count, 5) << "class " << c;
    }
  }
}

TEST(MultiLabelPKSampler, AnImageIsInTwoGroupsOfABatchOnlyWhenUnavoidable) {
  const auto objects = skewed_objects();
  const MultiLabelPKSampler sampler(objects, 4, 5, 3);
  std::map<int64_t, int64_t> class_size;
  for (const auto& o : objects)
    for (const auto& x : o) ++class_size[x.category];
  for (int64_t epoch = 0; epoch < 3; ++epoch)
    for (const auto& batch : sampler.epoch_plan(epoch)) {
      const std::set<int64_t> in_batch(batch.items.begin(), batch.items.end());
      std::set<int64_t> earlier;  // images of the groups before
      for (size_t g = 0; g < batch.classes.size(); ++g) {
        const int64_t c = batch.classes[g];
        const std::vector<int64_t> group(batch.items.begin() + static_cast<long>(g * 5),
                                         batch.items.begin() + static_cast<long>(g * 5 + 5));
        const std::set<int64_t> distinct(group.begin(), group.end());
        // A class with at least K images repeats none in its group; a smaller
        // class has all its images there.
        EXPECT_EQ(static_cast<int64_t>(distinct.size()), std::min<int64_t>(5, class_size[c])) << "class " << c;
        // Taking an image again (from an earlier group, or twice): only when
        // every image of the class is in the batch.
        const bool again = distinct.size() < group.size() ||
                           std::any_of(group.begin(), group.end(), [&](int64_t i) { return earlier.count(i) > 0; });
        int64_t outside = 0;
        for (size_t i = 0; i < objects.size(); ++i)
          if (holds(objects[i], c) && !in_batch.count(static_cast<int64_t>(i))) ++outside;
        if (again) {
          EXPECT_EQ(outside, 0) << "class " << c << " left images out but took one again";
        }
        earlier.insert(group.begin(), group.end());
      }
    }
}

TEST(MultiLabelPKSampler, ImagesWithoutObjectsAreNeverSampled) {
  const auto objects = skewed_objects();
  const MultiLabelPKSampler sampler(objects, 3, 4, 4);
  for (const auto& batch : sampler.epoch_batches(0))
    for (int64_t item : batch) EXPECT_FALSE(objects[static_cast<size_t>(item)].empty()) << item;
}

TEST(MultiLabelPKSampler, ClassStreamsGoThroughTheirImagesInPasses) {
  // Over an epoch a class in g groups of K shows min(g * K, n_c) distinct images.
  const auto objects = skewed_objects();
  const MultiLabelPKSampler sampler(objects, 4, 5, 6);
  std::map<int64_t, std::set<int64_t>> shown;
  std::map<int64_t, int64_t> groups;
  for (const auto& batch : sampler.epoch_plan(0))
    for (size_t g = 0; g < batch.classes.size(); ++g) {
      ++groups[batch.classes[g]];
      shown[batch.classes[g]].insert(batch.items.begin() + static_cast<long>(g * 5),
                                     batch.items.begin() + static_cast<long>(g * 5 + 5));
    }
  std::map<int64_t, int64_t> class_size;
  for (const auto& o : objects)
    for (const auto& x : o) ++class_size[x.category];
  for (const auto& [c, items] : shown)
    EXPECT_GE(static_cast<int64_t>(items.size()), std::min<int64_t>(class_size[c], groups[c] * 5 - 5)) << c;
}

TEST(MultiLabelPKSampler, DeterministicInItsInputsAndDifferentEachEpoch) {
  const auto objects = skewed_objects();
  const MultiLabelPKSampler a(objects, 4, 5, 7), b(objects, 4, 5, 7), c(objects, 4, 5, 8);
  EXPECT_EQ(a.epoch_batches(2), b.epoch_batches(2));
  EXPECT_NE(a.epoch_batches(2), a.epoch_batches(3));
  EXPECT_NE(a.epoch_batches(2), c.epoch_batches(2));
}

TEST(MultiLabelPKSampler, AtLeastOneBatchPerPClasses) {
  // 6 classes, 12 images, P x K = 2 x 10: ceil(12 / 20) = 1 batch would miss
  // classes; ceil(6 / 2) = 3 batches show each class once.
  std::vector<ObjectCounts> objects;
  for (int32_t i = 0; i < 12; ++i) objects.push_back({{i % 6, 1}});
  const MultiLabelPKSampler sampler(objects, 2, 10, 0);
  EXPECT_EQ(sampler.batches_per_epoch(), 3);
  std::set<int64_t> classes;
  for (const auto& batch : sampler.epoch_plan(0)) classes.insert(batch.classes.begin(), batch.classes.end());
  EXPECT_EQ(classes.size(), 6u);
  check_plan(sampler.epoch_plan(0), objects, 2, 10);
}

TEST(MultiLabelPKSampler, RejectsTooFewClasses) {
  std::vector<ObjectCounts> objects = {{{0, 1}}, {{0, 2}}, {}, {{1, 1}}};
  EXPECT_THROW(MultiLabelPKSampler(objects, 3, 2, 0), imret::Error);
  EXPECT_THROW(MultiLabelPKSampler(objects, 0, 2, 0), imret::Error);
  EXPECT_NO_THROW(MultiLabelPKSampler(objects, 2, 2, 0));
}
