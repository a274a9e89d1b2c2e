#pragma once
// t-SNE (t-distributed stochastic neighbour embedding) with scikit-learn
// 1.2's defaults and algorithm (sklearn.manifold.TSNE): squared Euclidean
// input distances, perplexity-calibrated Gaussian affinities (on the
// k = min(N - 1, int(3 * perplexity + 1)) nearest neighbours for Barnes-Hut,
// on all pairs for "exact"), PCA or random initialisation at scale 1e-4, and
// gradient descent with momentum and per-parameter gains: 250 iterations with
// early exaggeration (momentum 0.5), then the rest at momentum 0.8, with
// progress checks every 50 iterations. See docs/tsne.md.
#include <ATen/core/Tensor.h>  // keep <torch/torch.h> out of headers

#include <cstdint>
#include <string>

namespace imret::viz {

struct TsneOptions {
  int64_t dimensions = 2;            // output dims; Barnes-Hut: 2 or 3 (a quadtree or an octree)
  double perplexity = 30.0;
  double early_exaggeration = 12.0;  // >= 1
  double learning_rate = 0.0;        // <= 0: "auto" = max(N / early_exaggeration / 4, 50) as sklearn 1.2
  int64_t iterations = 1000;         // sklearn n_iter (>= 250)
  int64_t iterations_without_progress = 300;
  double min_grad_norm = 1e-7;
  std::string method = "barnes_hut";  // "barnes_hut" | "exact"
  double angle = 0.5;                 // Barnes-Hut theta, in [0, 1]
  std::string init = "pca";           // "pca" | "random"
  uint64_t seed = 0;
  bool progress = true;  // imret::Progress bar "t-SNE" over iterations
};

struct TsneResult {
  at::Tensor embedding;  // N x dimensions float32, CPU
  double kl_divergence = 0;
  int64_t iterations = 0;  // iterations run (sklearn's n_iter_ + 1: n_iter_ is the last index)
};

// data: N x D float (any float dtype; CPU). Throws imret::UsageError
// (core/error.hpp) for bad options (perplexity >= N, unknown method/init,
// N < 2...) with a one-line message naming the option. Deterministic for a
// given seed: the hand-written parts (affinities, gradients, descent) give the
// same result for any number of threads; the matrix products of the
// neighbour search and the PCA come from LibTorch.
TsneResult tsne(const at::Tensor& data, const TsneOptions& options = {});

// Checks the options for `points` x `features` data; throws UsageError as
// tsne() does (e.g. "t-SNE: perplexity must be positive and less than the
// number of points (12), got 30", sklearn's "perplexity must be less than n_samples").
void check_tsne_options(const TsneOptions& options, int64_t points, int64_t features);

}  // namespace imret::viz
