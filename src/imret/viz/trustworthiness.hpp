#pragma once
// Quality measures of a low-dimensional embedding.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace imret::viz {

// sklearn.manifold.trustworthiness with the Euclidean metric:
//   T(k) = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in N_k(i)} max(0, r(i, j) - k)
// where N_k(i) are i's k nearest neighbours in the embedding and r(i, j) is
// j's rank among i's neighbours in the input space (1 = nearest). A point is
// never its own neighbour, even when a duplicate sits at distance 0 (it is
// left out by index, as sklearn does). Equal distances are ranked by lower
// index first (sklearn's argsort leaves their order unspecified).
// input: N x D, embedding: N x d (any float dtype, CPU), in double. Time
// O(N^2 (D + d + k)), memory O(N) per thread (sklearn's needs N^2 ints).
// Throws UsageError unless 1 <= k < N / 2 and both have N rows.
double trustworthiness(const at::Tensor& input, const at::Tensor& embedding, int64_t k);

// Leave-one-out k-NN classification accuracy of `points` (N x d, CPU):
// each point's label is predicted by a majority vote of its k nearest other
// points (Euclidean; equal distances: lower index first). A tie in the vote
// goes to the smallest label, as sklearn's KNeighborsClassifier does.
// Time O(N^2 d).
// Throws UsageError unless 1 <= k < N and labels has N entries.
double knn_accuracy(const at::Tensor& points, const std::vector<int64_t>& labels, int k);

}  // namespace imret::viz
