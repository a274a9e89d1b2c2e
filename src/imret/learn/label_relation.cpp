#include "imret/learn/label_relation.hpp"

#include <torch/torch.h>

#include "imret/core/error.hpp"

namespace imret::learn {

void check_relation_labels(const at::Tensor& labels, int64_t rows, const std::string& who) {
  if (!labels.defined() || (labels.dim() != 1 && labels.dim() != 2))
    throw Error(who + ": labels must be a 1-D tensor of classes or an N x C tensor of object counts");
  if (rows >= 0 && labels.size(0) != rows)
    throw Error(who + ": labels must have one row per embedding row (" + std::to_string(rows) + "), got " +
                std::to_string(labels.size(0)));
  if (labels.is_floating_point() || labels.is_complex() || labels.scalar_type() == at::kBool)
    throw Error(who + ": labels must be an integer tensor");
}

void check_relation(const LabelRelation& relation, const std::string& who) {
  if (!(relation.positive_overlap >= 0 && relation.positive_overlap <= 1))
    throw Error(who + ": the positive overlap must be in [0, 1], got " + std::to_string(relation.positive_overlap));
}

at::Tensor rows_with_labels(const at::Tensor& labels) {
  if (labels.dim() == 1) return at::ones({labels.size(0)}, labels.options().dtype(at::kBool));
  return (labels > 0).any(1);
}

namespace {

RelationMasks single_label_masks(const at::Tensor& labels) {
  at::Tensor same = labels.unsqueeze(1) == labels.unsqueeze(0);
  at::Tensor off_diagonal = at::eye(labels.size(0), same.options()).logical_not();
  return {same & off_diagonal, same.logical_not()};
}

RelationMasks multi_label_masks(const at::Tensor& counts, const LabelRelation& relation) {
  // Shared and total classes of every pair, exactly (small integers in double).
  at::Tensor present = (counts > 0).to(at::kDouble);
  at::Tensor shared = present.mm(present.t());
  at::Tensor sizes = present.sum(1);
  at::Tensor either = sizes.unsqueeze(1) + sizes.unsqueeze(0) - shared;
  at::Tensor labelled = sizes > 0;
  at::Tensor eligible = labelled.unsqueeze(1) & labelled.unsqueeze(0) &
                        at::eye(counts.size(0), labelled.options()).logical_not();
  at::Tensor overlapping = relation.positive_overlap > 0 ? shared >= relation.positive_overlap * either : shared > 0;
  at::Tensor positive = eligible & overlapping & (shared > 0);
  at::Tensor negative = eligible & (relation.overlap_negatives ? positive.logical_not() : shared == 0);
  return {positive, negative};
}

}  // namespace

RelationMasks relation_masks(const at::Tensor& labels, const LabelRelation& relation) {
  check_relation_labels(labels, -1, "label relation");
  check_relation(relation, "label relation");
  at::Tensor l = labels.to(at::kLong);
  return l.dim() == 1 ? single_label_masks(l) : multi_label_masks(l, relation);
}

}  // namespace imret::learn
