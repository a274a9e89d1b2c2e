#pragma once
// UMAP's spectral initialisation (umap-learn 0.5.3, spectral.py): the
// eigenvectors of the normalised graph Laplacian I - D^-1/2 A D^-1/2 with the
// smallest non-zero eigenvalues; for a disconnected graph one spectral layout
// per connected component, placed around a layout of the components
// (multi_component_layout).
#include <ATen/core/Tensor.h>  // keep <torch/torch.h> out of headers

#include <cstdint>
#include <string>
#include <vector>

#include "imret/viz/umap_graph.hpp"

namespace imret::viz::umap_detail {

// The connected component of each point (0, 1, ... in order of each
// component's first point); `count` gets the number of components.
std::vector<int64_t> connected_components(const SparseGraph& graph, int64_t* count);

struct Eigenpairs {
  at::Tensor vectors;           // N x count float64, unit columns
  std::vector<double> values;   // ascending eigenvalues of the Laplacian
  bool converged = false;       // every residual ||L v - lambda v|| <= 1e-6
  int64_t products = 0;         // matrix-vector products used
};

// The `count` smallest eigenpairs of the normalised Laplacian of the
// symmetric, connected `graph`, after the trivial one (eigenvalue 0, vector
// D^1/2 1): thick-restart Lanczos with full reorthogonalisation on
// D^-1/2 A D^-1/2 (its largest eigenvalues), the trivial vector deflated,
// from a seeded random start. Gives up (converged = false, the best vectors
// found) after 10,000 products. Needs count < N.
Eigenpairs laplacian_eigenvectors(const SparseGraph& graph, int64_t count, uint64_t seed);

// Where multi_component_layout puts each of `components` components (label:
// each point's component): at most 2 dim of them at e_1, e_2, ..., -e_1, ...;
// more at sklearn's SpectralEmbedding of their centroids in `data` (affinity
// exp(-d^2) of the `metric` distances, the normalised Laplacian's eigenvectors
// 1..dim divided by sqrt(degree), each signed so its largest-magnitude entry
// is positive), divided by its largest entry; when every affinity underflows
// (no such layout), evenly round the unit circle. components x dim float64.
at::Tensor component_layout(const at::Tensor& data, const std::vector<int64_t>& label, int64_t components, int64_t dim,
                            const std::string& metric);

struct SpectralLayout {
  at::Tensor coordinates;  // N x dim float64, not yet scaled
  int64_t components = 1;
  std::string method;      // "spectral", or what stood in for it
};

// spectral_layout: one component -> the eigenvectors above (a random
// uniform [-10, 10] layout, with a warning, when they did not converge);
// several -> multi_component_layout: the components placed at +-e_i (at most
// 2 dim of them) or at a spectral layout of their centroids in `data`
// (affinity exp(-d^2), `metric`), each component's own spectral layout scaled
// to half the distance to the nearest other component; components too small
// for one (fewer than 2 dim points, or dim + 1 or fewer) are placed at random.
SpectralLayout spectral_layout(const at::Tensor& data, const SparseGraph& graph, int64_t dim,
                               const std::string& metric, uint64_t seed);

}  // namespace imret::viz::umap_detail
