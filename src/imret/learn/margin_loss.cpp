#include "imret/learn/margin_loss.hpp"

#include <torch/torch.h>

#include <utility>

#include "imret/core/error.hpp"
#include "imret/learn/registry.hpp"

namespace imret::learn {

MarginLoss::MarginLoss(std::shared_ptr<Distance> distance, double margin, double beta, bool learn_beta, double nu,
                       LabelRelation relation)
    : distance_(std::move(distance)), margin_(margin), learn_beta_(learn_beta), nu_(nu), relation_(relation) {
  if (!distance_) throw UsageError("margin loss: no distance given");
  if (!(nu >= 0)) throw UsageError("margin loss: nu must be >= 0");
  check_relation(relation_, "margin loss");
  beta_ = torch::full({1}, beta);
  if (learn_beta_) beta_ = register_parameter("beta", beta_);
}

LossResult MarginLoss::operator()(const at::Tensor& embeddings, const at::Tensor& labels,
                                  const Triplets* triplets) const {
  return compute(embeddings, labels, nullptr, triplets);
}

LossResult MarginLoss::compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                               const Triplets* triplets) const {
  const at::Tensor l = checked_labels(embeddings, labels, "margin");
  const Triplets use = triplets_for(embeddings, l, pairs, triplets, relation_);
  const at::Tensor matrix = distance_->matrix(embeddings, embeddings);
  const at::Tensor ap = matrix.index({use.anchor, use.positive});
  const at::Tensor an = matrix.index({use.anchor, use.negative});
  const at::Tensor beta = beta_.to(embeddings.device(), embeddings.scalar_type());
  // "Closer than beta" is a larger value for a similarity.
  const double sign = distance_->is_similarity() ? -1.0 : 1.0;
  const at::Tensor positive = at::relu(sign * (ap - beta) + margin_);
  const at::Tensor negative = at::relu(sign * (beta - an) + margin_);
  const at::Tensor losses = positive + negative;
  const int64_t divisor = (positive > 0).sum().item<int64_t>() + (negative > 0).sum().item<int64_t>();
  LossResult result;
  result.loss = divisor > 0 ? losses.sum() / static_cast<double>(divisor) : (losses * 0).sum();
  if (learn_beta_ && losses.numel() > 0) result.loss = result.loss + (beta * nu_).sum();
  result.tuples = losses.numel();
  result.nonzero = (losses > 0).sum().item<int64_t>();
  return result;
}

// Found by the build and listed in methods() (registry.hpp).
MethodDescriptor margin_method() {
  return tuple_method("margin", "margin loss, boundary beta 1.2 (Wu et al. 2017)", TupleShape::Triplets,
                      "distance-weighted", [](const LossContext& c) {
                        return std::make_shared<MarginLoss>(c.distance, c.config.margin, 1.2, false, 0.0, c.relation);
                      });
}

}  // namespace imret::learn
