#pragma once
// P x K batches for metric learning (Hermans et al. 2017): each batch holds
// P distinct classes with K items each, so that every item of a batch has
// positives and negatives in it.
#include <cstdint>
#include <vector>

namespace imret::data {

// Guarantees:
// - every batch has exactly P * K dataset indices: P distinct classes, K items
//   of each, grouped by class (the K items of the first class, then the next...);
// - over one epoch every item appears at least once;
// - a class with at least K items never repeats an item within a batch; a
//   class with fewer than K items has all its items in each of its batches and
//   fills its K slots by going through its items again (each pass in a new
//   shuffled order), i.e. it is sampled with replacement, as evenly as possible;
// - the batches depend only on (labels, P, K, seed, epoch): the same on every
//   platform, and different from one epoch to the next.
//
// How: each class's items form a stream of shuffled passes; the epoch needs
// ceil(n_c / K) chunks of K items from class c (one full pass). The chunks are
// dealt round-robin, class after class (in a shuffled class order), into
// B = max(ceil(sum_c ceil(n_c / K) / P), max_c ceil(n_c / K)) batches, so that
// no batch gets one class twice; batches left with fewer than P classes are
// completed with random other classes (their next K items). The batch order
// is shuffled. B is about len(labels) / (P * K) when classes are balanced.
class PKSampler {
 public:
  // labels: the class of each dataset item (any int64 values). Throws
  // imret::Error when p < 1, k < 1, or the labels have fewer than p classes.
  PKSampler(std::vector<int64_t> labels, int64_t p, int64_t k, uint64_t seed);

  int64_t p() const { return p_; }
  int64_t k() const { return k_; }
  int64_t batch_size() const { return p_ * k_; }
  int64_t classes() const { return static_cast<int64_t>(class_items_.size()); }
  int64_t batches_per_epoch() const { return batches_; }

  // The batches of `epoch` (0-based): batches_per_epoch() lists of dataset indices.
  std::vector<std::vector<int64_t>> epoch_batches(int64_t epoch) const;

 private:
  std::vector<int64_t> labels_;
  int64_t p_, k_;
  uint64_t seed_;
  std::vector<std::vector<int64_t>> class_items_;  // per class (ascending label), dataset indices ascending
  int64_t batches_ = 0;
};

}  // namespace imret::data
