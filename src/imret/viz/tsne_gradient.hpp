#pragma once
// The t-SNE objective: KL(P || Q) and its gradient with respect to the
// embedding Y (N x dims, row-major float32), as scikit-learn 1.2's
// _kl_divergence (exact) and _kl_divergence_bh (Barnes-Hut) compute them,
// including the factor 2 (dof + 1) / dof. P is scaled by p_scale on the fly
// (the early exaggeration). With compute_error false the KL is not computed
// and NaN is returned. Points run in parallel; every per-point result lands
// in its own slot and sums are taken in index order, so the result does not
// depend on the number of threads.
#include <cstdint>
#include <vector>

#include "imret/viz/tsne_affinities.hpp"

namespace imret::viz::tsne_detail {

// All pairs: p is N x N (symmetric, zero diagonal). O(N^2).
double exact_kl_gradient(const std::vector<double>& p, double p_scale, const float* y, int64_t n, int64_t dims,
                         int dof, float* grad, bool compute_error);

// Barnes-Hut: attraction over P's non-zeros, repulsion through a quadtree
// (dims 2) or octree (dims 3) with the given angle (theta).
double barnes_hut_kl_gradient(const SparseAffinities& p, double p_scale, const float* y, int64_t dims, int dof,
                              double angle, float* grad, bool compute_error);

}  // namespace imret::viz::tsne_detail
