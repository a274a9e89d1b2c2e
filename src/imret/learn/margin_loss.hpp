#pragma once
// Margin loss (Wu et al. 2017, "Sampling Matters in Deep Embedding
// Learning"), as pytorch-metric-learning's MarginLoss with one beta: for each
// triplet (a, p, n)
//   relu(d_ap - beta + margin) + relu(beta - d_an + margin)
// (similarity: relu(beta - s_ap + margin) + relu(s_an - beta + margin)),
// summed and divided by the number of non-zero terms, positive and negative
// counted apart (pml's DivisorReducer; 0 when none). With learn_beta, beta is
// a parameter ("beta", trained with the network) and nu * beta is added (the
// paper's regulariser; pml adds it whenever there are triplets). Triplets:
// the given ones, the given pairs' (a1, p, n) with a1 == a2, else every
// triplet of the batch. tuples = triplets; nonzero = triplets with a non-zero loss.
// Method "margin" (registry.hpp): margin = TrainConfig::margin, fixed beta
// 1.2, distance-weighted sampling as the default miner, as in the paper.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <memory>
#include <string>

#include "imret/learn/loss.hpp"

namespace imret::learn {

class MarginLoss : public Loss, public torch::nn::Module {
 public:
  explicit MarginLoss(std::shared_ptr<Distance> distance, double margin = 0.2, double beta = 1.2,
                      bool learn_beta = false, double nu = 0.0, LabelRelation relation = {});
  LossResult operator()(const at::Tensor& embeddings, const at::Tensor& labels,
                        const Triplets* triplets = nullptr) const;
  LossResult compute(const at::Tensor& embeddings, const at::Tensor& labels, const Pairs* pairs,
                     const Triplets* triplets) const override;
  std::string name() const override { return "margin"; }
  const at::Tensor& beta() const { return beta_; }  // 1 element

 private:
  std::shared_ptr<Distance> distance_;
  double margin_;
  bool learn_beta_;
  double nu_;
  LabelRelation relation_;
  at::Tensor beta_;
};

}  // namespace imret::learn
