#pragma once
// t-SNE input affinities P, as scikit-learn 1.2 computes them: per point a
// binary search on the Gaussian precision beta so that the conditional
// distribution's entropy is log(perplexity), then P = (P + P^T) / sum.
// Barnes-Hut uses the k = min(N - 1, int(3 * perplexity + 1)) nearest
// neighbours only (a sparse P); the exact method uses all pairs (dense P).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace imret::viz::tsne_detail {

// Symmetric joint probabilities in CSR form: row i's entries are
// indices/values[indptr[i], indptr[i + 1]), column indices ascending.
struct SparseAffinities {
  int64_t points = 0;
  std::vector<int64_t> indptr;
  std::vector<int64_t> indices;
  std::vector<float> values;
};

// Conditional probabilities p_{j|i} (rows x columns, row-major) from squared
// distances (rows x columns). When columns == rows the matrix is all pairs and
// the diagonal is left out (sklearn: "not using neighbours"); otherwise every
// column is a neighbour. At most 100 bisection steps per row, stopping when
// |entropy - log(perplexity)| <= 1e-5, as sklearn's _binary_search_perplexity.
// Rows run in parallel; each row's result does not depend on the threads.
std::vector<float> conditional_probabilities(const float* squared_distances, int64_t rows, int64_t columns,
                                             double perplexity);

// The neighbours of each point: ids (N x k) and their squared Euclidean
// distances, each row sorted by neighbour id (sklearn's CSR order).
struct Neighbours {
  int64_t points = 0;
  int64_t k = 0;
  std::vector<int64_t> ids;
  std::vector<float> squared_distances;
};

// The k nearest neighbours of every row of data (N x D float32, contiguous),
// the point itself left out (by id, so a duplicate point still counts as a
// neighbour at distance 0; when duplicates push the point itself out of the
// k + 1 found, the farthest is dropped, as sklearn's kneighbors does).
Neighbours nearest_neighbours(const at::Tensor& data, int64_t k);

// sklearn's _joint_probabilities_nn: conditional P over the neighbours, then
// P + P^T normalised to sum 1.
SparseAffinities joint_probabilities_nn(const Neighbours& neighbours, double perplexity);

// sklearn's _joint_probabilities: N x N row-major, P + P^T normalised to sum 1,
// off-diagonal entries at least DBL_EPSILON, the diagonal 0.
std::vector<double> joint_probabilities_exact(const at::Tensor& data, double perplexity);

}  // namespace imret::viz::tsne_detail
