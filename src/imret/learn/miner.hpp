#pragma once
// Miners choose tuples (pairs or triplets) from a batch, as in
// pytorch-metric-learning: they see the batch's embeddings, labels and a
// Distance, and return index tensors into the batch (tuples.hpp). Losses then
// compute on the chosen tuples. No gradient flows through mining: miners work
// under a NoGradGuard on detached embeddings.
//
// Conventions shared by every miner:
// - embeddings: N x D float tensor (any device); labels: N integer tensor
//   (one class each), or N x C integer object counts (multi-label). Anything
//   else throws imret::Error.
// - Positive and negative pairs follow the miner's LabelRelation
//   (label_relation.hpp), given at construction: for 1-D labels same label /
//   another label whatever the relation; for multi-label counts, sharing a
//   class (or a Jaccard overlap >= t) / sharing none (or: not positive). Pairs
//   that are neither, and rows without objects, are never mined.
// - "Closer" means a smaller distance, or a larger similarity when
//   distance.is_similarity(). A triplet (a, p, n) violates the margin when
//   d(a,n) < d(a,p) + margin (similarity: s(a,n) > s(a,p) - margin).
// - Anchor-positive pairs are ordered pairs (a, p) with a != p: both (i, j)
//   and (j, i) appear, as in pytorch-metric-learning.
// - Ties are broken by the lowest batch index.
// - Results are int64 tensors on the embeddings' device, ordered by anchor,
//   then positive, then negative. A batch without any valid tuple (one class,
//   or only singletons) gives empty tensors, never an error.
// - Random miners are deterministic: the k-th call of mine() on a miner
//   (counting from 0 after construction) draws from an rng seeded by
//   derive_seed(seed, k), so the same seed and the same sequence of batches
//   give the same tuples on every platform. Such miners count calls with an
//   atomic counter: concurrent calls are safe but their order decides the draws.
#include <ATen/core/Tensor.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

#include "imret/learn/distance.hpp"
#include "imret/learn/label_relation.hpp"
#include "imret/learn/tuples.hpp"

namespace imret::learn {

// What a miner chose, for logs (pml's num_triplets, pos/neg pair distances).
struct MiningStats {
  int64_t tuples = 0;          // triplets, or positive + negative pairs
  int64_t positive_pairs = 0;  // (a, p) entries (one per triplet for triplets)
  int64_t negative_pairs = 0;  // (a, n) entries (one per triplet for triplets)
  double mean_positive = NAN;  // mean distance (similarity) of the (a, p) entries; NaN when none
  double mean_negative = NAN;  // mean distance (similarity) of the (a, n) entries; NaN when none
  int64_t violating = 0;       // triplets: those violating the margin; pairs: negative pairs closer
                               // than the margin (d < margin, or s > margin for a similarity)
};

MiningStats triplet_stats(const Triplets& triplets, const at::Tensor& embeddings, const Distance& distance,
                          double margin);
MiningStats pair_stats(const Pairs& pairs, const at::Tensor& embeddings, const Distance& distance, double margin);

class TripletMiner {
 public:
  explicit TripletMiner(LabelRelation relation = {}) : relation_(relation) {}
  virtual ~TripletMiner() = default;
  virtual Triplets mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                        double margin) const = 0;
  virtual std::string name() const = 0;
  const LabelRelation& relation() const { return relation_; }

 protected:
  LabelRelation relation_;
};

class PairMiner {
 public:
  explicit PairMiner(LabelRelation relation = {}) : relation_(relation) {}
  virtual ~PairMiner() = default;
  // margin: for pair miners an absolute threshold on the distance (or the
  // similarity), as the contrastive loss's negative margin.
  virtual Pairs mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                     double margin) const = 0;
  virtual std::string name() const = 0;
  const LabelRelation& relation() const { return relation_; }

 protected:
  LabelRelation relation_;
};

// Every valid (a, p, n). Ignores the distance and the margin.
class AllTripletMiner : public TripletMiner {
 public:
  explicit AllTripletMiner(LabelRelation relation = {}) : TripletMiner(relation) {}
  Triplets mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                double margin) const override;
  std::string name() const override { return "all"; }
};

// Batch-hard (Hermans et al. 2017): per anchor that has a positive and a
// negative, one triplet: its farthest positive and its nearest negative.
// Ignores the margin.
class BatchHardTripletMiner : public TripletMiner {
 public:
  explicit BatchHardTripletMiner(LabelRelation relation = {}) : TripletMiner(relation) {}
  Triplets mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                double margin) const override;
  std::string name() const override { return "batch-hard"; }
};

// Semi-hard (FaceNet, Schroff et al. 2015): per (a, p), the negatives with
// d(a,p) < d(a,n) < d(a,p) + margin (strict on both sides). keep_all (the
// default, as pml's TripletMarginMiner "semihard"): every such negative;
// otherwise only the hardest of them (smallest d(a,n); "semi-hard-hardest").
// On the CPU a loop over the pairs; on other devices tensor operations on the
// device (detail::semi_hard_on_device), with no host synchronisation per
// anchor: one per block of anchors, for the triplets' count.
class SemiHardTripletMiner : public TripletMiner {
 public:
  explicit SemiHardTripletMiner(bool keep_all = true, LabelRelation relation = {})
      : TripletMiner(relation), keep_all_(keep_all) {}
  Triplets mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                double margin) const override;
  std::string name() const override { return keep_all_ ? "semi-hard" : "semi-hard-hardest"; }

 private:
  bool keep_all_;
};

// Random-hard: per (a, p), one negative drawn uniformly among those that
// violate the margin (d(a,n) < d(a,p) + margin); pairs without one are skipped.
class RandomHardTripletMiner : public TripletMiner {
 public:
  explicit RandomHardTripletMiner(uint64_t seed, LabelRelation relation = {}) : TripletMiner(relation), seed_(seed) {}
  Triplets mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                double margin) const override;
  std::string name() const override { return "random-hard"; }

 private:
  uint64_t seed_;
  mutable std::atomic<uint64_t> calls_{0};
};

// Distance-weighted sampling (Wu et al. 2017, "Sampling matters in deep
// embedding learning"), as pml's DistanceWeightedMiner: for embeddings on the
// unit sphere in n = D dimensions, pairwise distances have density
// q(d) ∝ d^(n-2) (1 - d²/4)^((n-3)/2); per (a, p), one negative is drawn with
// probability ∝ 1/q(max(d(a,n), cutoff)), and 0 for d(a,n) >= nonzero_loss_cutoff
// (those give no loss) or where the weight is not finite. Anchors whose
// negatives all weigh 0 give no triplet. Needs L2-normalised embeddings: the
// distance is taken as Euclidean (a "squared-euclidean" distance is square
// rooted, a similarity s becomes sqrt(2 - 2s)). Ignores the margin.
class DistanceWeightedTripletMiner : public TripletMiner {
 public:
  explicit DistanceWeightedTripletMiner(uint64_t seed, double cutoff = 0.5, double nonzero_loss_cutoff = 1.4,
                                        LabelRelation relation = {})
      : TripletMiner(relation), seed_(seed), cutoff_(cutoff), nonzero_loss_cutoff_(nonzero_loss_cutoff) {}
  Triplets mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                double margin) const override;
  std::string name() const override { return "distance-weighted"; }

  // Unnormalised sampling weight 1/q(d) for dimension `dim` (with the cutoff
  // and the non-zero-loss cutoff applied); 0 where not finite.
  double weight(double d, int64_t dim) const;

 private:
  // log of weight(d, dim); -infinity where the weight is 0.
  double log_weight(double d, int64_t dim) const;

  uint64_t seed_;
  double cutoff_;
  double nonzero_loss_cutoff_;
  mutable std::atomic<uint64_t> calls_{0};
};

// Easy-positive (Xuan et al. 2020, EPHN): per anchor with a positive and a
// negative, one triplet: its nearest positive and its nearest negative.
// Ignores the margin.
class EasyPositiveTripletMiner : public TripletMiner {
 public:
  explicit EasyPositiveTripletMiner(LabelRelation relation = {}) : TripletMiner(relation) {}
  Triplets mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                double margin) const override;
  std::string name() const override { return "easy-positive"; }
};

// Every positive pair and every negative pair. Ignores the distance and the margin.
class AllPairMiner : public PairMiner {
 public:
  explicit AllPairMiner(LabelRelation relation = {}) : PairMiner(relation) {}
  Pairs mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
             double margin) const override;
  std::string name() const override { return "all"; }
};

// For the contrastive loss: every positive pair, and the negative pairs closer
// than the margin (d(a,n) < margin; similarity: s(a,n) > margin). With
// hardest_only ("hardest-negative"): per anchor only its nearest negative, and
// only if it is closer than the margin.
class HardNegativePairMiner : public PairMiner {
 public:
  explicit HardNegativePairMiner(bool hardest_only = false, LabelRelation relation = {})
      : PairMiner(relation), hardest_only_(hardest_only) {}
  Pairs mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
             double margin) const override;
  std::string name() const override { return hardest_only_ ? "hardest-negative" : "hard-negative"; }

 private:
  bool hardest_only_;
};

// "all", "batch-hard", "semi-hard", "semi-hard-hardest", "random-hard",
// "distance-weighted", "easy-positive"; UsageError otherwise (the message lists them).
// The miner compares labels under `relation` (imret::Error for an overlap outside [0, 1]).
std::unique_ptr<TripletMiner> make_triplet_miner(const std::string& name, uint64_t seed = 0,
                                                 LabelRelation relation = {});
// "all", "hard-negative", "hardest-negative"; UsageError otherwise.
std::unique_ptr<PairMiner> make_pair_miner(const std::string& name, uint64_t seed = 0, LabelRelation relation = {});

namespace detail {
// SemiHardTripletMiner's device algorithm, runnable on any device (tests run
// it on the CPU against the loop): the same triplets in the same order
// (anchor, positive, negative increasing; the hardest: the first of equal
// distances), compared in float64 as the loop does.
Triplets semi_hard_on_device(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                             double margin, bool keep_all, const LabelRelation& relation = {});
}  // namespace detail

}  // namespace imret::learn
