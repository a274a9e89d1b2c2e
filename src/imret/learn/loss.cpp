#include "imret/learn/loss.hpp"

#include <torch/torch.h>

#include <limits>
#include <utility>

#include "imret/core/error.hpp"
#include "imret/learn/registry.hpp"

namespace imret::learn {

namespace {

using torch::indexing::None;
using torch::indexing::Slice;

at::Tensor index_on(const at::Tensor& index, const at::Tensor& embeddings) {
  return index.to(embeddings.device(), at::kLong).reshape({-1});
}

at::Tensor reduce(const at::Tensor& losses, Reduction reduction) {
  switch (reduction) {
    case Reduction::kSum:
      return losses.sum();
    case Reduction::kMean:
      return losses.numel() == 0 ? losses.sum() : losses.mean();
    case Reduction::kMeanNonZero: {
      at::Tensor nonzero = losses > 0;
      const int64_t count = nonzero.sum().item<int64_t>();
      // No violating tuple: 0, still connected to the graph (zero gradient).
      if (count == 0) return (losses * 0).sum();
      return losses.masked_select(nonzero).sum() / static_cast<double>(count);
    }
  }
  throw Error("unknown reduction");
}

int64_t count_positive(const at::Tensor& losses) { return (losses > 0).sum().item<int64_t>(); }

// Many tuples share few rows: one differentiable N x N matrix, indexed, is
// cheaper (forward and backward) than gathering rows for every tuple.
bool worth_a_matrix(int64_t tuples, const at::Tensor& embeddings) { return tuples > embeddings.size(0); }

// Distances of index pairs (i[k], j[k]): from `matrix` when defined, else paired().
at::Tensor pair_values(const Distance& distance, const at::Tensor& embeddings, const at::Tensor& matrix,
                       const at::Tensor& i, const at::Tensor& j) {
  if (matrix.defined()) return matrix.index({i, j});
  return distance.paired(embeddings.index_select(0, i), embeddings.index_select(0, j));
}

// log(1 + sum_{k: mask} exp(x_k)) along `dim`, stable; 0 where the mask is empty.
at::Tensor logsumexp_add_one(const at::Tensor& x, const at::Tensor& mask, int64_t dim) {
  at::Tensor masked = x.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
  std::vector<int64_t> zero_shape = masked.sizes().vec();
  zero_shape[static_cast<size_t>(dim)] = 1;
  return at::logsumexp(at::cat({masked, at::zeros(zero_shape, masked.options())}, dim), dim);
}

Pairs pairs_on(const Pairs& pairs, const at::Tensor& embeddings) {
  return {index_on(pairs.a1, embeddings), index_on(pairs.p, embeddings), index_on(pairs.a2, embeddings),
          index_on(pairs.n, embeddings)};
}

Triplets triplets_on(const Triplets& triplets, const at::Tensor& embeddings) {
  Triplets t{index_on(triplets.anchor, embeddings), index_on(triplets.positive, embeddings),
             index_on(triplets.negative, embeddings)};
  if (t.anchor.numel() != t.positive.numel() || t.anchor.numel() != t.negative.numel()) {
    throw Error("triplets: anchor, positive and negative must have the same length");
  }
  return t;
}

}  // namespace

at::Tensor checked_labels(const at::Tensor& embeddings, const at::Tensor& labels, const std::string& loss) {
  if (!embeddings.defined() || embeddings.dim() != 2 || !embeddings.is_floating_point()) {
    throw Error(loss + " loss: embeddings must be a 2-D floating-point tensor (N x D)");
  }
  check_relation_labels(labels, embeddings.size(0), loss + " loss");
  return labels.to(embeddings.device(), at::kLong);
}

Triplets triplets_for(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                      const Triplets* triplets, const LabelRelation& relation) {
  if (triplets) return triplets_on(*triplets, embeddings);
  if (pairs) return pairs_to_triplets(pairs_on(*pairs, embeddings));
  return all_triplets(labels, relation);
}

Pairs all_pairs(const at::Tensor& labels, const LabelRelation& relation) {
  const RelationMasks masks = relation_masks(labels, relation);
  at::Tensor pos = masks.positive.nonzero();
  at::Tensor neg = masks.negative.nonzero();
  return {pos.select(1, 0), pos.select(1, 1), neg.select(1, 0), neg.select(1, 1)};
}

Triplets all_triplets(const at::Tensor& labels, const LabelRelation& relation) {
  const RelationMasks masks = relation_masks(labels, relation);
  at::Tensor apn = (masks.positive.unsqueeze(2) & masks.negative.unsqueeze(1)).nonzero();  // (a, p, n)
  return {apn.select(1, 0), apn.select(1, 1), apn.select(1, 2)};
}

Pairs triplets_to_pairs(const Triplets& triplets) {
  return {triplets.anchor, triplets.positive, triplets.anchor, triplets.negative};
}

Triplets pairs_to_triplets(const Pairs& pairs) {
  at::Tensor match = (pairs.a1.reshape({-1}).unsqueeze(1) == pairs.a2.reshape({-1}).unsqueeze(0)).nonzero();
  at::Tensor i = match.select(1, 0), j = match.select(1, 1);
  return {pairs.a1.reshape({-1}).index_select(0, i), pairs.p.reshape({-1}).index_select(0, i),
          pairs.n.reshape({-1}).index_select(0, j)};
}

// ---------------------------------------------------------------- contrastive

ContrastiveLoss::ContrastiveLoss(std::shared_ptr<Distance> distance, double pos_margin, double neg_margin,
                                 Reduction reduction, LabelRelation relation)
    : distance_(std::move(distance)),
      pos_margin_(pos_margin),
      neg_margin_(neg_margin),
      reduction_(reduction),
      relation_(relation) {
  if (!distance_) throw UsageError("contrastive loss: no distance given");
  check_relation(relation_, "contrastive loss");
}

LossResult ContrastiveLoss::operator()(const at::Tensor& embeddings, const at::Tensor& labels,
                                       const Pairs* pairs) const {
  return compute(embeddings, labels, pairs, nullptr);
}

LossResult ContrastiveLoss::compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                                    const Triplets* triplets) const {
  at::Tensor l = checked_labels(embeddings, labels, "contrastive");
  Pairs use;
  at::Tensor matrix;
  if (pairs)
    use = pairs_on(*pairs, embeddings);
  else if (triplets)
    use = triplets_to_pairs(triplets_on(*triplets, embeddings));
  else
    use = all_pairs(l, relation_);
  if (!(pairs || triplets) || worth_a_matrix(use.a1.numel() + use.a2.numel(), embeddings))
    matrix = distance_->matrix(embeddings, embeddings);
  at::Tensor pos = pair_values(*distance_, embeddings, matrix, use.a1, use.p);
  at::Tensor neg = pair_values(*distance_, embeddings, matrix, use.a2, use.n);
  at::Tensor pos_losses, neg_losses;
  if (distance_->is_similarity()) {
    pos_losses = at::relu(pos_margin_ - pos);
    neg_losses = at::relu(neg - neg_margin_);
  } else {
    pos_losses = at::relu(pos - pos_margin_);
    neg_losses = at::relu(neg_margin_ - neg);
  }
  LossResult result;
  result.loss = reduce(pos_losses, reduction_) + reduce(neg_losses, reduction_);
  result.tuples = pos_losses.numel() + neg_losses.numel();
  result.nonzero = count_positive(pos_losses) + count_positive(neg_losses);
  return result;
}

// ---------------------------------------------------------------- triplet

TripletMarginLoss::TripletMarginLoss(std::shared_ptr<Distance> distance, double margin, bool soft, Reduction reduction,
                                     LabelRelation relation)
    : distance_(std::move(distance)), margin_(margin), soft_(soft), reduction_(reduction), relation_(relation) {
  if (!distance_) throw UsageError("triplet loss: no distance given");
  check_relation(relation_, "triplet loss");
}

LossResult TripletMarginLoss::operator()(const at::Tensor& embeddings, const at::Tensor& labels,
                                         const Triplets* triplets) const {
  return compute(embeddings, labels, nullptr, triplets);
}

LossResult TripletMarginLoss::compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                                      const Triplets* triplets) const {
  at::Tensor l = checked_labels(embeddings, labels, "triplet");
  const Triplets use = triplets_for(embeddings, l, pairs, triplets, relation_);
  at::Tensor matrix;
  if (!(triplets || pairs) || worth_a_matrix(use.anchor.numel(), embeddings))
    matrix = distance_->matrix(embeddings, embeddings);
  at::Tensor ap = pair_values(*distance_, embeddings, matrix, use.anchor, use.positive);
  at::Tensor an = pair_values(*distance_, embeddings, matrix, use.anchor, use.negative);
  at::Tensor violation = distance_->is_similarity() ? an - ap : ap - an;
  at::Tensor losses = soft_ ? at::softplus(violation) : at::relu(violation + margin_);
  LossResult result;
  result.loss = reduce(losses, reduction_);
  result.tuples = losses.numel();
  result.nonzero = count_positive(losses);
  return result;
}

// ---------------------------------------------------------------- quadruplet

QuadrupletLoss::QuadrupletLoss(std::shared_ptr<Distance> distance, double margin1, double margin2, Reduction reduction,
                               LabelRelation relation)
    : distance_(std::move(distance)),
      margin1_(margin1),
      margin2_(margin2),
      reduction_(reduction),
      relation_(relation) {
  if (!distance_) throw UsageError("quadruplet loss: no distance given");
  check_relation(relation_, "quadruplet loss");
}

LossResult QuadrupletLoss::operator()(const at::Tensor& embeddings, const at::Tensor& labels,
                                      const Triplets* triplets) const {
  return compute(embeddings, labels, nullptr, triplets);
}

LossResult QuadrupletLoss::compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                                   const Triplets* triplets) const {
  at::Tensor l = checked_labels(embeddings, labels, "quadruplet");
  const Triplets use = triplets_for(embeddings, l, pairs, triplets, relation_);
  at::Tensor matrix = distance_->matrix(embeddings, embeddings);
  at::Tensor ap = matrix.index({use.anchor, use.positive});
  at::Tensor an = matrix.index({use.anchor, use.negative});
  at::Tensor nk = matrix.index_select(0, use.negative);  // T x N
  // k may close a quadruplet when it is a negative of both the anchor and the
  // negative (single labels: its label is neither the anchor's nor the negative's).
  const at::Tensor negative = relation_masks(l, relation_).negative;
  at::Tensor valid = negative.index_select(0, use.anchor) & negative.index_select(0, use.negative);
  at::Tensor first, second;
  if (distance_->is_similarity()) {
    first = at::relu(an - ap + margin1_);
    second = at::relu(nk - ap.unsqueeze(1) + margin2_).masked_select(valid);
  } else {
    first = at::relu(ap - an + margin1_);
    second = at::relu(ap.unsqueeze(1) - nk + margin2_).masked_select(valid);
  }
  LossResult result;
  result.loss = reduce(first, reduction_) + reduce(second, reduction_);
  result.tuples = first.numel() + second.numel();
  result.nonzero = count_positive(first) + count_positive(second);
  return result;
}

// ---------------------------------------------------------------- multi-similarity

MultiSimilarityLoss::MultiSimilarityLoss(double alpha, double beta, double base, LabelRelation relation)
    : alpha_(alpha), beta_(beta), base_(base), relation_(relation) {
  if (!(alpha > 0) || !(beta > 0)) throw UsageError("multi-similarity loss: alpha and beta must be > 0");
  check_relation(relation_, "multi-similarity loss");
}

LossResult MultiSimilarityLoss::operator()(const at::Tensor& embeddings, const at::Tensor& labels,
                                           const Pairs* pairs) const {
  return compute(embeddings, labels, pairs, nullptr);
}

LossResult MultiSimilarityLoss::compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                                        const Triplets* triplets) const {
  at::Tensor l = checked_labels(embeddings, labels, "multi-similarity");
  const int64_t n = embeddings.size(0);
  at::Tensor pos_mask, neg_mask;
  if (pairs || triplets) {
    Pairs use = pairs ? pairs_on(*pairs, embeddings) : triplets_to_pairs(triplets_on(*triplets, embeddings));
    auto options = embeddings.options().dtype(at::kBool);
    pos_mask = at::zeros({n, n}, options);
    neg_mask = at::zeros({n, n}, options);
    pos_mask.index_put_({use.a1, use.p}, at::ones({}, options));
    neg_mask.index_put_({use.a2, use.n}, at::ones({}, options));
  } else {
    const RelationMasks masks = relation_masks(l, relation_);
    pos_mask = masks.positive;
    neg_mask = masks.negative;
  }
  at::Tensor s = CosineSimilarity().matrix(embeddings, embeddings);
  at::Tensor pos_term = logsumexp_add_one(-alpha_ * (s - base_), pos_mask, 1) / alpha_;
  at::Tensor neg_term = logsumexp_add_one(beta_ * (s - base_), neg_mask, 1) / beta_;
  LossResult result;
  result.loss = n == 0 ? embeddings.sum() : (pos_term + neg_term).mean();
  result.tuples = pos_mask.sum().item<int64_t>() + neg_mask.sum().item<int64_t>();
  at::Tensor sd = s.detach();
  result.nonzero = (pos_mask & (sd < base_)).sum().item<int64_t>() + (neg_mask & (sd > base_)).sum().item<int64_t>();
  return result;
}

// ---------------------------------------------------------------- proxy anchor

ProxyAnchorLoss::ProxyAnchorLoss(int64_t num_classes, int64_t dim, double margin, double alpha)
    : num_classes_(num_classes), margin_(margin), alpha_(alpha) {
  if (num_classes < 1 || dim < 1) throw UsageError("proxy-anchor loss: num_classes and dim must be >= 1");
  proxies_ = register_parameter("proxies", torch::empty({num_classes, dim}));
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_normal_(proxies_, 0.0, torch::kFanOut);
}

LossResult ProxyAnchorLoss::operator()(const at::Tensor& embeddings, const at::Tensor& labels) const {
  return compute(embeddings, labels, nullptr, nullptr);
}

LossResult ProxyAnchorLoss::compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs*,
                                    const Triplets*) const {
  at::Tensor l = checked_labels(embeddings, labels, "proxy-anchor");
  if (embeddings.size(1) != proxies_.size(1)) {
    throw Error("proxy-anchor loss: embeddings have " + std::to_string(embeddings.size(1)) + " columns, the proxies " +
                std::to_string(proxies_.size(1)));
  }
  at::Tensor proxies = proxies_.to(embeddings.device(), embeddings.scalar_type());
  at::Tensor s = CosineSimilarity().matrix(embeddings, proxies);  // N x C
  at::Tensor pos_mask, neg_mask;
  if (l.dim() == 2) {
    // Multi-label: the image's classes are its positive proxies; an image
    // without objects pulls or pushes no proxy.
    if (l.size(1) != num_classes_)
      throw Error("proxy-anchor loss: object counts have " + std::to_string(l.size(1)) + " columns, the loss " +
                  std::to_string(num_classes_) + " classes");
    pos_mask = l > 0;
    neg_mask = pos_mask.logical_not() & rows_with_labels(l).unsqueeze(1);
  } else {
    if (l.numel() > 0 && (l.min().item<int64_t>() < 0 || l.max().item<int64_t>() >= num_classes_)) {
      throw Error("proxy-anchor loss: labels must lie in [0, " + std::to_string(num_classes_) + ")");
    }
    pos_mask = at::one_hot(l, num_classes_).to(at::kBool);
    neg_mask = pos_mask.logical_not();
  }
  at::Tensor with_positives = pos_mask.any(0);
  at::Tensor pos_term = logsumexp_add_one(-alpha_ * (s - margin_), pos_mask, 0);  // C
  at::Tensor neg_term = logsumexp_add_one(alpha_ * (s + margin_), neg_mask, 0);   // C
  const int64_t present = with_positives.sum().item<int64_t>();
  LossResult result;
  result.loss = pos_term.sum() / static_cast<double>(std::max<int64_t>(present, 1)) +
                neg_term.sum() / static_cast<double>(num_classes_);
  result.tuples = pos_mask.sum().item<int64_t>() + neg_mask.sum().item<int64_t>();
  at::Tensor sd = s.detach();
  result.nonzero =
      (pos_mask & (sd < margin_)).sum().item<int64_t>() + (neg_mask & (sd > -margin_)).sum().item<int64_t>();
  return result;
}

// ---------------------------------------------------------------- descriptors (listed in registry.cpp)

MethodDescriptor siamese_method() {
  MethodDescriptor m = tuple_method(
      "siamese", "contrastive loss on pairs (Hadsell et al. 2006)", TupleShape::Pairs, "all",
      [](const LossContext& c) {
        return std::make_shared<ContrastiveLoss>(c.distance, c.config.pos_margin, c.config.margin,
                                                 Reduction::kMeanNonZero, c.relation);
      });
  m.settings.push_back("pos_margin");
  m.offline = true;
  return m;
}

MethodDescriptor triplet_method() {
  MethodDescriptor m = tuple_method(
      "triplet", "triplet margin loss (soft_margin: its soft version, Hermans et al. 2017)", TupleShape::Triplets,
      "batch-hard", [](const LossContext& c) {
        return std::make_shared<TripletMarginLoss>(c.distance, c.config.margin, c.config.soft_margin,
                                                   Reduction::kMeanNonZero, c.relation);
      });
  m.settings.push_back("soft_margin");
  m.switches = {"soft_margin"};
  m.offline = true;
  return m;
}

MethodDescriptor quadruplet_method() {
  return tuple_method("quadruplet", "quadruplet loss, margins margin and margin / 2 (Chen et al. 2017)",
                      TupleShape::Triplets, "batch-hard", [](const LossContext& c) {
                        return std::make_shared<QuadrupletLoss>(c.distance, c.config.margin, c.config.margin / 2,
                                                                Reduction::kMeanNonZero, c.relation);
                      });
}

MethodDescriptor multi_similarity_method() {
  MethodDescriptor m;
  m.name = "multi-similarity";
  m.help = "multi-similarity loss on cosine similarities, alpha 2, beta 50, base 0.5 (Wang et al. 2019)";
  m.tuples = TupleShape::Pairs;  // every pair of the batch unless a pair miner is given
  m.own_distance = "cosine";
  m.make_loss = [](const LossContext& c) { return std::make_shared<MultiSimilarityLoss>(2.0, 50.0, 0.5, c.relation); };
  return m;
}

MethodDescriptor proxy_anchor_method() {
  MethodDescriptor m;
  m.name = "proxy-anchor";
  m.help = "proxy-anchor loss, one learned proxy per class, margin 0.1, alpha 32 (Kim et al. 2020)";
  m.own_distance = "cosine";
  m.make_loss = [](const LossContext& c) {
    return std::make_shared<ProxyAnchorLoss>(c.num_classes, c.embedding_dim);
  };
  return m;
}

}  // namespace imret::learn
