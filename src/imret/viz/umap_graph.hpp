#pragma once
// UMAP's fuzzy simplicial set (umap-learn 0.5.3, umap_.py): the k nearest
// neighbours of every point (the point itself first), each point's smooth
// k-NN distance sigma and nearest-neighbour distance rho (smooth_knn_dist),
// the membership strengths exp(-(d - rho) / sigma) (compute_membership_strengths)
// and their fuzzy union A + A^T - A * A^T (fuzzy_simplicial_set).
#include <ATen/core/Tensor.h>  // keep <torch/torch.h> out of headers

#include <cstdint>
#include <string>
#include <vector>

namespace imret::viz::umap_detail {

// The k nearest neighbours of each point, the point itself included: row i
// holds ids[i * k + c] and distances[i * k + c] for c < k, by ascending
// distance, the point itself first (at distance 0; equal distances: lower id
// first). Distances are Euclidean, or 1 - cosine similarity.
struct NeighbourGraph {
  int64_t points = 0;
  int64_t k = 0;
  std::vector<int64_t> ids;
  std::vector<float> distances;
  std::string method;  // how they were found: "exact" or the FAISS index used
};

// A sparse N x N matrix in CSR form: row i's entries are
// indices/values[indptr[i], indptr[i + 1]), column indices ascending.
struct SparseGraph {
  int64_t points = 0;
  std::vector<int64_t> indptr;
  std::vector<int64_t> indices;
  std::vector<float> values;
  int64_t edges() const { return static_cast<int64_t>(indices.size()); }
};

// The k nearest neighbours (self included) of every row of data (N x D
// float32). metric: "euclidean" | "cosine". method: "exact" (search::ExactIndex:
// blocks of matrix products); "projected" (approximate: the 3k nearest in the
// data's first 64 principal components, of the unit vectors for cosine, found
// exactly, then ranked by their true distances); "hnsw" (FAISS HNSW32,
// efConstruction 64, efSearch max(2k, 64); needs a build with FAISS; slow in
// high dimensions); or "auto": projected when N^2 D > 2e11 (e.g. 70,000 x 784)
// and D > 64, exact otherwise. The distances of the pairs found are
// recomputed in double precision from the data.
// Throws UsageError for an unknown metric or method, or hnsw without FAISS.
NeighbourGraph nearest_neighbours(const at::Tensor& data, int64_t k, const std::string& metric,
                                  const std::string& method = "auto");

// umap-learn's smooth_knn_dist on the distances of `graph` (self first), with
// k = graph.k, bandwidth 1, 64 bisection steps and tolerance 1e-5:
// rho_i = the local_connectivity-th non-zero distance (interpolated), sigma_i
// the scale with sum_{j >= 1} exp(-max(0, d_ij - rho_i) / sigma_i) = log2(k),
// at least 1e-3 times the mean distance of the row (rho_i > 0) or of all rows.
struct SmoothDistances {
  std::vector<float> sigmas;
  std::vector<float> rhos;
};
SmoothDistances smooth_knn_distances(const NeighbourGraph& graph, double local_connectivity);

// compute_membership_strengths: row i, column ids[i][c], value
// exp(-(d - rho_i) / sigma_i) (1 when d <= rho_i or sigma_i = 0; the point
// itself, and values that are 0, are left out).
SparseGraph membership_strengths(const NeighbourGraph& graph, const SmoothDistances& smooth);

// The fuzzy set operations of fuzzy_simplicial_set:
// mix * (A + A^T - A o A^T) + (1 - mix) * (A o A^T), zeros left out.
SparseGraph fuzzy_union(const SparseGraph& a, double set_op_mix_ratio);

// fuzzy_simplicial_set: the three steps above.
SparseGraph fuzzy_simplicial_set(const NeighbourGraph& graph, double local_connectivity, double set_op_mix_ratio,
                                 SmoothDistances* smooth = nullptr);

}  // namespace imret::viz::umap_detail
