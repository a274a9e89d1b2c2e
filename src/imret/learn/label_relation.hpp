#pragma once
// Which pairs of a batch are positive and which negative, for miners and
// losses. Labels come as
// - a 1-D integer tensor (N): one class per image; positive = same label,
//   negative = another label (the two are complements off the diagonal);
// - a 2-D integer tensor (N x C) of instance counts (multi-hot, COCO): an
//   image holds class c when its count is > 0. Positive (i != j): the two
//   share at least one class, or, with positive_overlap t > 0, the Jaccard
//   index of their class sets |A n B| / |A u B| is >= t. Negative: they share
//   no class, or, with overlap_negatives, every pair that is not positive
//   ("hard negatives by overlap": partial overlaps below t). Without
//   overlap_negatives, pairs that overlap below t are neither: positive and
//   negative are no longer complements, and the pairs in between are ignored.
//   A row without objects (all zeros) is neither positive nor negative to
//   anything.
// The relation options only matter for 2-D labels: for 1-D labels the masks
// are the same whatever they are (a single class shares all or nothing).
#include <ATen/core/Tensor.h>

#include <string>

namespace imret::learn {

struct LabelRelation {
  double positive_overlap = 0;     // 0: share a class; t in (0, 1]: Jaccard >= t
  bool overlap_negatives = false;  // negatives: false = share no class; true = every non-positive pair
};

// N x N bool masks on the labels' device; the diagonal is false in both.
struct RelationMasks {
  at::Tensor positive, negative;
};

// Throws imret::Error("<who>: ...") unless labels are a defined integer
// tensor, 1-D or 2-D, with `rows` rows (rows < 0: any), or when
// relation.positive_overlap is outside [0, 1].
void check_relation_labels(const at::Tensor& labels, int64_t rows, const std::string& who);
void check_relation(const LabelRelation& relation, const std::string& who);

// The masks of `labels` under `relation` (checked as above, with `who` "label relation").
RelationMasks relation_masks(const at::Tensor& labels, const LabelRelation& relation = {});

// Rows that may take part in pairs: every row for 1-D labels, rows with at
// least one object for 2-D labels. N bool on the labels' device.
at::Tensor rows_with_labels(const at::Tensor& labels);

}  // namespace imret::learn
