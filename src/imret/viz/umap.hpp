#pragma once
// UMAP (uniform manifold approximation and projection) with umap-learn
// 0.5.3's defaults and algorithm (umap.UMAP): the k-NN graph, smooth k-NN
// distances and the fuzzy union (umap_graph.hpp), a spectral initialisation
// (umap_spectral.hpp), the a/b curve from min_dist and spread, and SGD with
// negative sampling on umap-learn's schedule (umap_layout.hpp). See docs/umap.md.
#include <ATen/core/Tensor.h>  // keep <torch/torch.h> out of headers

#include <cstdint>
#include <string>

namespace imret::viz {

struct UmapOptions {
  int64_t n_neighbors = 15;   // the point itself included, as umap-learn counts; 2 <= n_neighbors < N
  int64_t n_components = 2;   // output dimensions
  double min_dist = 0.1;      // 0 <= min_dist <= spread
  double spread = 1.0;
  int64_t n_epochs = 0;       // 0: umap-learn's auto, 500 for N <= 10,000 points, 200 above
  double learning_rate = 1.0; // initial SGD step, decaying linearly to 0
  int64_t negative_sample_rate = 5;
  double repulsion_strength = 1.0;  // gamma
  double local_connectivity = 1.0;
  double set_op_mix_ratio = 1.0;    // 1: fuzzy union, 0: fuzzy intersection
  std::string init = "spectral";    // "spectral" | "random"
  std::string metric = "euclidean"; // input metric: "euclidean" | "cosine"
  // The k-NN search (umap_graph.hpp): "auto" (exact, or "projected" when
  // N^2 D > 2e11 and D > 64), "exact", "projected" (candidates from 64
  // principal components, re-ranked exactly) or "hnsw" (FAISS).
  std::string neighbours = "auto";
  uint64_t seed = 0;
  bool progress = true;  // imret::Progress bar "UMAP" over the epochs
};

struct UmapResult {
  at::Tensor embedding;        // N x n_components float32, CPU
  double a = 0, b = 0;         // the fitted curve 1 / (1 + a d^(2b))
  int64_t epochs = 0;
  int64_t edges = 0;           // directed edges of the graph the SGD samples (after pruning)
  int64_t components = 1;      // connected components of that graph
  std::string init;            // the initialisation used (e.g. "spectral", "random")
  std::string neighbours;      // how the neighbours were found
  double neighbour_seconds = 0, graph_seconds = 0, init_seconds = 0, layout_seconds = 0;
};

// data: N x D float (any float dtype; CPU). Throws imret::UsageError
// (core/error.hpp) for bad options, with a one-line message naming the
// option. Deterministic for a given seed and number of threads; the graph,
// the initialisation and the SGD give the same result for any number of
// threads (the SGD moves each point from the others' positions at the start
// of each epoch) except for the order of exactly tied neighbours and an HNSW
// search, and the last bits of LibTorch's matrix products.
UmapResult umap(const at::Tensor& data, const UmapOptions& options = {});

// Checks the options for N points; throws UsageError as umap() does.
void check_umap_options(const UmapOptions& options, int64_t points);

}  // namespace imret::viz
