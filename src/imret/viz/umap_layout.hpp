#pragma once
// UMAP's low-dimensional side (umap-learn 0.5.3): the curve
// 1 / (1 + a d^(2b)) fitted to the min_dist/spread target (find_ab_params),
// how often each edge is sampled (make_epochs_per_sample), and the stochastic
// gradient descent with negative sampling (layouts.optimize_layout_euclidean).
#include <cstdint>
#include <utility>
#include <vector>

#include "imret/viz/umap_graph.hpp"

namespace imret::viz::umap_detail {

// The (a, b) least-squares fit of 1 / (1 + a x^(2b)) to 1 for x < min_dist
// and exp(-(x - min_dist) / spread) beyond, at 300 points evenly spaced on
// [0, 3 spread], by Levenberg-Marquardt from (1, 1) (scipy's curve_fit).
std::pair<double, double> find_ab_params(double spread, double min_dist);

// make_epochs_per_sample: n_epochs / (n_epochs * w / max(w)) per weight, -1
// where that is 0 (an edge never sampled).
std::vector<double> epochs_per_sample(const std::vector<float>& weights, int64_t n_epochs);

struct LayoutOptions {
  double a = 0, b = 0;
  double repulsion_strength = 1.0;  // gamma
  double learning_rate = 1.0;       // initial alpha, decaying linearly to 0
  double negative_sample_rate = 5;
  int64_t epochs = 200;
  uint64_t seed = 0;
  bool progress = true;  // imret::Progress "UMAP" over the epochs
};

// The SGD of optimize_layout_euclidean with move_other, over the symmetric
// `graph` (N x N, both (i, j) and (j, i) present) on `embedding` (N x dim,
// row-major float32, updated in place). Each epoch n, every directed edge
// (i, j) due (its next sample epoch <= n) pulls i towards j by twice the
// step (umap-learn moves both ends of (i, j) and of (j, i), so each end is
// pulled twice, one step after the other), then
// pushes i away from int((n - next negative epoch) / (epochs_per_sample /
// negative_sample_rate)) random points; gradients are clipped to [-4, 4],
// scaled by alpha = learning_rate * (1 - n / epochs).
// Parallel over points: each point moves only itself and reads the others'
// positions as they were at the start of the epoch, and draws its negative
// samples from its own seeded Tausworthe generator (umap-learn's tau_rand_int),
// so the result is the same for every number of threads. An edge's negative
// samples (up to 8 at a time) are computed from the same position and added
// together, where umap-learn applies them one after the other.
void optimize_layout(float* embedding, int64_t dim, const SparseGraph& graph, const std::vector<double>& epochs_per_sample,
                     const LayoutOptions& options);

}  // namespace imret::viz::umap_detail
