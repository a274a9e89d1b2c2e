#pragma once
// P x K batches for metric learning on multi-label images (COCO): each batch
// picks P distinct classes and K images containing each, so that every group
// has positives (they share its class) and, usually, negatives (images of
// other groups sharing no class with it). Classes are picked uniformly over
// classes, not images: a rare class is in as many batches as a common one.
#include <cstdint>
#include <vector>

#include "imret/core/object_counts.hpp"

namespace imret::data {

// One planned batch: the P classes picked, and P * K dataset indices grouped
// by class (the K images of classes[0], then those of classes[1]...).
struct MultiLabelBatch {
  std::vector<int64_t> classes;
  std::vector<int64_t> items;
};

// Guarantees:
// - every batch has exactly P distinct classes and P * K dataset indices,
//   grouped by class; every index of group g holds class classes[g];
// - images without objects are never in a batch (they are positive and
//   negative to nothing under learn::LabelRelation, so they would teach
//   nothing); only classes held by at least one image can be picked;
// - a class holding at least K images never repeats an image within its
//   group; a smaller class has all its images in its group and fills its K
//   slots by going through them again (sampled with replacement, as
//   PKSampler does);
// - an image is in two groups of one batch only when unavoidable: a group
//   first takes images of its class not yet in the batch, and only when the
//   class has fewer than K of those, images already in other groups;
// - over one epoch every class that can be picked is in floor(B * P / C) or
//   ceil(B * P / C) batches (C: classes that can be picked, B: batches per
//   epoch), rare classes included, and at least once;
// - B = max(ceil(images with objects / (P * K)), ceil(C / P));
// - the batches depend only on (objects, P, K, seed, epoch): the same on every
//   platform, and different from one epoch to the next.
// Not guaranteed: that every image is seen each epoch (images of common
// classes come up less often than with image-uniform sampling; over epochs
// each class goes through its images in shuffled passes).
//
// How: the class schedule is a sequence of passes over the classes, each in a
// new shuffled order, cut into batches of P (where a batch spans two passes,
// classes of the new pass already in the batch are moved later in that pass,
// so a pass still holds every class once). Each class's images form a stream
// of shuffled passes; an image skipped because it is already in the batch
// keeps its turn for the class's next group.
class MultiLabelPKSampler {
 public:
  // objects: the objects of each dataset item (ObjectCounts, categories
  // >= 0). Throws imret::Error when p < 1, k < 1, or fewer than p classes
  // are held by any image.
  MultiLabelPKSampler(const std::vector<ObjectCounts>& objects, int64_t p, int64_t k, uint64_t seed);

  int64_t p() const { return p_; }
  int64_t k() const { return k_; }
  int64_t batch_size() const { return p_ * k_; }
  // Classes held by at least one image (those that can be picked).
  int64_t classes() const { return static_cast<int64_t>(class_items_.size()); }
  int64_t batches_per_epoch() const { return batches_; }

  // The batches of `epoch` (0-based), with the classes picked for each.
  std::vector<MultiLabelBatch> epoch_plan(int64_t epoch) const;
  // The same, dataset indices only (for data::Loader::start_epoch).
  std::vector<std::vector<int64_t>> epoch_batches(int64_t epoch) const;

 private:
  int64_t p_, k_;
  uint64_t seed_;
  std::vector<int64_t> class_ids_;                 // category of each pickable class, ascending
  std::vector<std::vector<int64_t>> class_items_;  // per pickable class, dataset indices ascending
  int64_t batches_ = 0;
};

}  // namespace imret::data
