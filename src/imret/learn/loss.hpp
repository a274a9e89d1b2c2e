#pragma once
// Metric-learning losses, composable with every miner and distance (as in
// pytorch-metric-learning): a loss takes the batch's embeddings (N x D float),
// its labels (N, integer; or N x C integer object counts for multi-label
// images) and optionally the tuples a miner chose; without tuples it uses
// every valid tuple of the batch (all positive and negative pairs, or all
// triplets). Which pairs are positive and negative is the loss's
// LabelRelation (label_relation.hpp), given at construction: for 1-D labels
// same / another label; for multi-label counts, sharing a class (or a Jaccard
// overlap >= t) / sharing none (or: not positive); rows without objects take
// part in no tuple. Pair losses given triplets use their (anchor,
// positive) and (anchor, negative) pairs; triplet losses given pairs use every
// (a1, p, n) with a1 == a2.
//
// Distances: with at most N given tuples (N rows) a loss calls
// Distance::paired() on the gathered rows; with more, or without tuples, it
// calls Distance::matrix() once and indexes it (cheaper, and equal up to
// float rounding: ~1e-6 for Euclidean distances of unit-scale rows).
// For a similarity (cosine) every inequality flips: "closer" means larger.
//
// Each call returns the loss (a differentiable scalar on the embeddings'
// device) and what a trainer logs: how many tuples the loss saw and how many
// of them violate its margin (for hinge losses: have a non-zero loss).
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>

#include "imret/learn/distance.hpp"
#include "imret/learn/label_relation.hpp"
#include "imret/learn/tuples.hpp"

namespace imret::learn {

struct LossResult {
  at::Tensor loss;      // scalar
  int64_t tuples = 0;   // tuples (pairs, triplets, embedding-proxy pairs) the loss saw
  int64_t nonzero = 0;  // of them, those with a non-zero loss / on the wrong side of the margin
  double nonzero_fraction() const { return tuples > 0 ? static_cast<double>(nonzero) / tuples : 0.0; }
};

// How per-tuple losses become one number.
enum class Reduction {
  kMeanNonZero,  // mean over the tuples with loss > 0 (0, with a gradient graph, when none): pml's AvgNonZeroReducer
  kMean,         // mean over all tuples (torch.nn's reduction="mean")
  kSum,
};

// Base class for the trainer: one entry point whatever the tuple type.
class Loss {
 public:
  virtual ~Loss() = default;
  // `pairs` and `triplets` may both be null (all tuples of the batch); when
  // both are given, the one the loss consumes natively wins.
  virtual LossResult compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                             const Triplets* triplets) const = 0;
  virtual std::string name() const = 0;
};

// Hadsell et al. 2006 as pml: positives relu(d - pos_margin), negatives
// relu(neg_margin - d); for a similarity relu(pos_margin - s) and
// relu(s - neg_margin). Reduction applies to the positive and negative pairs
// separately; the loss is their sum (pml's ContrastiveLoss), so with
// kMeanNonZero: mean over non-zero positive losses + mean over non-zero
// negative losses. tuples = positive + negative pairs.
class ContrastiveLoss : public Loss {
 public:
  explicit ContrastiveLoss(std::shared_ptr<Distance> distance, double pos_margin = 0.0, double neg_margin = 1.0,
                           Reduction reduction = Reduction::kMeanNonZero, LabelRelation relation = {});
  LossResult operator()(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs = nullptr) const;
  LossResult compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                     const Triplets* triplets) const override;
  std::string name() const override { return "contrastive"; }

 private:
  std::shared_ptr<Distance> distance_;
  double pos_margin_, neg_margin_;
  Reduction reduction_;
  LabelRelation relation_;
};

// Hinge: relu(d_ap - d_an + margin) (similarity: relu(s_an - s_ap + margin));
// soft (Hermans et al. 2017): log(1 + exp(d_ap - d_an)), no margin, every
// triplet counts as non-zero. With EuclideanDistance(1e-6) and Reduction::kMean
// this is torch.nn.TripletMarginLoss(margin, p=2) on the given triplets.
class TripletMarginLoss : public Loss {
 public:
  explicit TripletMarginLoss(std::shared_ptr<Distance> distance, double margin = 0.2, bool soft = false,
                             Reduction reduction = Reduction::kMeanNonZero, LabelRelation relation = {});
  LossResult operator()(const at::Tensor& embeddings, const at::Tensor& labels,
                        const Triplets* triplets = nullptr) const;
  LossResult compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                     const Triplets* triplets) const override;
  std::string name() const override { return "triplet"; }

 private:
  std::shared_ptr<Distance> distance_;
  double margin_;
  bool soft_;
  Reduction reduction_;
  LabelRelation relation_;
};

// Chen et al. 2017: for each triplet (a, p, n) the triplet hinge
//   relu(d_ap - d_an + margin1)
// and, for every k that is a negative of both a and n (single labels: whose
// label is neither a's nor n's; a negative pair (n, k) sharing no row with
// the anchor), relu(d_ap - d_nk + margin2); similarity:
// relu(s_an - s_ap + margin1), relu(s_nk - s_ap + margin2). Distances come
// from Distance::matrix(). The reduction applies to the two terms separately;
// the loss is their sum. tuples = triplets + quadruplets (a, p, n, k);
// nonzero = hinge terms > 0. Given pairs become triplets (pairs_to_triplets).
class QuadrupletLoss : public Loss {
 public:
  explicit QuadrupletLoss(std::shared_ptr<Distance> distance, double margin1 = 1.0, double margin2 = 0.5,
                          Reduction reduction = Reduction::kMeanNonZero, LabelRelation relation = {});
  LossResult operator()(const at::Tensor& embeddings, const at::Tensor& labels,
                        const Triplets* triplets = nullptr) const;
  LossResult compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                     const Triplets* triplets) const override;
  std::string name() const override { return "quadruplet"; }

 private:
  std::shared_ptr<Distance> distance_;
  double margin1_, margin2_;
  Reduction reduction_;
  LabelRelation relation_;
};

// Wang et al. 2019 (as pml), on cosine similarity S of the rows; for each anchor i
//   1/alpha log(1 + sum_{p in P_i} exp(-alpha (S_ip - base)))
// + 1/beta  log(1 + sum_{n in N_i} exp( beta (S_in - base)))
// averaged over all N anchors (an anchor without pairs contributes 0). P_i,
// N_i: the given pairs with a1 == i / a2 == i, else the relation's positives
// / negatives of i (single labels: every other row with the same / another label). tuples = pairs; nonzero = positive pairs with S < base
// plus negative pairs with S > base.
class MultiSimilarityLoss : public Loss {
 public:
  explicit MultiSimilarityLoss(double alpha = 2.0, double beta = 50.0, double base = 0.5, LabelRelation relation = {});
  LossResult operator()(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs = nullptr) const;
  LossResult compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                     const Triplets* triplets) const override;
  std::string name() const override { return "multi-similarity"; }

 private:
  double alpha_, beta_, base_;
  LabelRelation relation_;
};

// Kim et al. 2020 (as pml): learnable proxies (num_classes x dim, registered
// as "proxies", Kaiming-normal initialised), cosine similarity s(x, p):
//   1/|P+| sum_{p in P+} log(1 + sum_{x in X_p+} exp(-alpha (s(x,p) - margin)))
// + 1/C    sum_{p}       log(1 + sum_{x in X_p-} exp( alpha (s(x,p) + margin)))
// P+: proxies of the classes present in the batch. Tuples are ignored.
// tuples = N * C embedding-proxy pairs; nonzero = positives with s < margin
// plus negatives with s > -margin. Labels must lie in [0, num_classes).
// Multi-label counts (N x num_classes): an image's positive proxies are its
// classes (count > 0), the others negative; a row without objects is
// positive and negative to no proxy (tuples count only the pairs used).
class ProxyAnchorLoss : public Loss, public torch::nn::Module {
 public:
  ProxyAnchorLoss(int64_t num_classes, int64_t dim, double margin = 0.1, double alpha = 32.0);
  LossResult operator()(const at::Tensor& embeddings, const at::Tensor& labels) const;
  LossResult compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                     const Triplets* triplets) const override;
  std::string name() const override { return "proxy-anchor"; }
  const at::Tensor& proxies() const { return proxies_; }

 private:
  int64_t num_classes_;
  double margin_, alpha_;
  at::Tensor proxies_;
};

// Helpers for loss implementations.
// Validates the batch (imret::Error naming `loss`: "<loss> loss: ..."); returns
// the labels as int64 on the embeddings' device.
at::Tensor checked_labels(const at::Tensor& embeddings, const at::Tensor& labels, const std::string& loss);
// The triplets a triplet loss uses, on the embeddings' device: the given
// triplets; else every (a1, p, n) of the given pairs with a1 == a2; else every
// triplet of `labels` (checked_labels' result) under `relation`.
Triplets triplets_for(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                      const Triplets* triplets, const LabelRelation& relation);

// Helpers shared with the miners and tests.
// Every positive (a1, p) and negative (a2, n) pair of the relation (single
// labels: every (i, j), i != j, with equal labels and with different labels).
Pairs all_pairs(const at::Tensor& labels, const LabelRelation& relation = {});
// Every (a, p, n) with (a, p) positive and (a, n) negative (single labels:
// a != p, label a == label p != label n).
Triplets all_triplets(const at::Tensor& labels, const LabelRelation& relation = {});
// (anchor, positive) and (anchor, negative) pairs of the triplets.
Pairs triplets_to_pairs(const Triplets& triplets);
// Every (a1[i], p[i], n[j]) with a1[i] == a2[j].
Triplets pairs_to_triplets(const Pairs& pairs);

}  // namespace imret::learn
