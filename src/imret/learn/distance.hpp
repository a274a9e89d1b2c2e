#pragma once
// Distances between embeddings, composable with every miner and loss (as in
// pytorch-metric-learning): a loss or miner asks the distance for the matrix
// between two sets of embeddings and whether larger values mean closer.
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>

namespace imret::learn {

class Distance {
 public:
  virtual ~Distance() = default;
  // N x M matrix between the rows of `a` (N x D) and `b` (M x D); differentiable.
  virtual at::Tensor matrix(const at::Tensor& a, const at::Tensor& b) const = 0;
  // Row-wise values for paired rows of `a` and `b` (both N x D) -> N.
  virtual at::Tensor paired(const at::Tensor& a, const at::Tensor& b) const = 0;
  // True when larger values mean more similar (cosine similarity).
  virtual bool is_similarity() const { return false; }
  virtual std::string name() const = 0;
};

// "euclidean", "squared-euclidean", "cosine" (similarity of L2-normalised
// embeddings). UsageError for anything else. (The learned Mahalanobis
// distance is a module with parameters; it comes with the trainer.)
std::shared_ptr<Distance> make_distance(const std::string& name);

}  // namespace imret::learn
