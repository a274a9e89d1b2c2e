#include "imret/data/pk_sampler.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "imret/core/error.hpp"

using imret::data::PKSampler;

namespace {

// Checks the P x K shape of every batch; returns how often each index appears.
std::map<int64_t, int64_t> check_batches(const std::vector<std::vector<int64_t>>& batches,
                                         const std::vector<int64_t>& labels, int64_t p, int64_t k) {
  std::map<int64_t, int64_t> seen;
  std::map<int64_t, int64_t> class_size;
  for (const int64_t l : labels) ++class_size[l];
  for (const auto& batch : batches) {
    EXPECT_EQ(static_cast<int64_t>(batch.size()), p * k);
    std::map<int64_t, std::vector<int64_t>> by_class;
    for (size_t i = 0; i < batch.size(); ++i) {
      const int64_t index = batch[i];
      EXPECT_GE(index, 0);
      EXPECT_LT(index, static_cast<int64_t>(labels.size()));
      if (index < 0 || index >= static_cast<int64_t>(labels.size())) continue;
      ++seen[index];
      by_class[labels[index]].push_back(index);
      // Grouped by class: the class changes only at multiples of K.
      if (i % k != 0) {
        EXPECT_EQ(labels[index], labels[batch[i - 1]]);
      }
    }
    EXPECT_EQ(static_cast<int64_t>(by_class.size()), p);
    for (const auto& [label, items] : by_class) {
      EXPECT_EQ(static_cast<int64_t>(items.size()), k) << "class " << label;
      const std::set<int64_t> distinct(items.begin(), items.end());
      if (class_size[label] >= k)
        EXPECT_EQ(distinct.size(), items.size()) << "class " << label << " repeats an item";
      else
        EXPECT_EQ(static_cast<int64_t>(distinct.size()), class_size[label]) << "class " << label;
    }
  }
  return seen;
}

std::vector<int64_t> balanced_labels(int64_t classes, int64_t per_class) {
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < classes * per_class; ++i) labels.push_back((i * 7) % classes);
  return labels;
}

}  // namespace

TEST(PKSampler, BalancedBatchesCoverTheDataOnce) {
  const auto labels = balanced_labels(10, 8);  // 80 items
  PKSampler sampler(labels, 4, 4, 1);
  EXPECT_EQ(sampler.batch_size(), 16);
  EXPECT_EQ(sampler.classes(), 10);
  EXPECT_EQ(sampler.batches_per_epoch(), 5);  // 80 / 16
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    const auto batches = sampler.epoch_batches(epoch);
    ASSERT_EQ(batches.size(), 5u);
    const auto seen = check_batches(batches, labels, 4, 4);
    EXPECT_EQ(seen.size(), labels.size());
    for (const auto& [index, count] : seen) EXPECT_EQ(count, 1) << index;
  }
}

TEST(PKSampler, UnevenClassesAreCoveredAndSmallClassesRepeat) {
  // Classes of 1, 2, 3, 5, 9, 13 and 20 items (labels with gaps and negatives).
  std::vector<int64_t> labels;
  const std::vector<std::pair<int64_t, int64_t>> sizes{{-3, 1}, {0, 2}, {4, 3}, {7, 5}, {8, 9}, {100, 13}, {11, 20}};
  for (const auto& [label, n] : sizes)
    for (int64_t i = 0; i < n; ++i) labels.push_back(label);
  std::swap(labels[0], labels[30]);
  std::swap(labels[5], labels[50]);
  for (const auto& [p, k] : std::vector<std::pair<int64_t, int64_t>>{{3, 4}, {2, 2}, {7, 3}, {1, 1}, {4, 6}}) {
    PKSampler sampler(labels, p, k, 9);
    for (int64_t epoch = 0; epoch < 4; ++epoch) {
      const auto batches = sampler.epoch_batches(epoch);
      EXPECT_EQ(static_cast<int64_t>(batches.size()), sampler.batches_per_epoch());
      const auto seen = check_batches(batches, labels, p, k);
      EXPECT_EQ(seen.size(), labels.size()) << "P " << p << " K " << k << " epoch " << epoch;
    }
  }
  // About len / (P * K) batches: 53 items, P*K = 12 -> chunks 1+1+1+2+3+4+5 = 17, ceil(17/3) = 6.
  EXPECT_EQ(PKSampler(labels, 3, 4, 0).batches_per_epoch(), 6);
  // A dominant class needs as many batches as its chunks: 20 items / K=2 -> 10.
  EXPECT_EQ(PKSampler(labels, 7, 2, 0).batches_per_epoch(), 10);
}

TEST(PKSampler, DeterministicPerSeedAndEpoch) {
  const auto labels = balanced_labels(12, 6);
  PKSampler a(labels, 4, 3, 5), b(labels, 4, 3, 5), c(labels, 4, 3, 6);
  EXPECT_EQ(a.epoch_batches(0), b.epoch_batches(0));
  EXPECT_EQ(a.epoch_batches(3), b.epoch_batches(3));
  EXPECT_EQ(a.epoch_batches(0), a.epoch_batches(0));
  EXPECT_NE(a.epoch_batches(0), a.epoch_batches(1));
  EXPECT_NE(a.epoch_batches(0), c.epoch_batches(0));
}

TEST(PKSampler, ErrorsNameTheProblem) {
  try {
    PKSampler(balanced_labels(3, 4), 4, 2, 0);
    FAIL() << "expected imret::Error";
  } catch (const imret::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("P = 4"), std::string::npos) << what;
    EXPECT_NE(what.find("only 3 classes"), std::string::npos) << what;
  }
  EXPECT_THROW(PKSampler({}, 1, 1, 0), imret::Error);
  EXPECT_THROW(PKSampler(balanced_labels(3, 4), 0, 2, 0), imret::Error);
  EXPECT_THROW(PKSampler(balanced_labels(3, 4), 2, 0, 0), imret::Error);
  EXPECT_NO_THROW(PKSampler(balanced_labels(3, 4), 3, 2, 0));
}
