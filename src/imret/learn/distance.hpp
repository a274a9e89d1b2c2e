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

// sqrt(max(||a - b + eps||^2, 1e-12)): the clamp keeps gradients finite when
// two rows coincide (the distance is then 1e-6, not 0). With eps = 1e-6 this
// is torch.nn.functional.pairwise_distance(a, b, p=2, eps=1e-6), the distance
// inside torch.nn.TripletMarginLoss; make_distance("euclidean") uses eps = 0.
// matrix() uses |x|^2 + |y|^2 - 2 x.y (float32 error ~1e-6 on unit-scale
// rows); paired() subtracts the rows directly.
class EuclideanDistance : public Distance {
 public:
  explicit EuclideanDistance(double eps = 0.0) : eps_(eps) {}
  at::Tensor matrix(const at::Tensor& a, const at::Tensor& b) const override;
  at::Tensor paired(const at::Tensor& a, const at::Tensor& b) const override;
  std::string name() const override { return "euclidean"; }

 private:
  double eps_;
};

// ||a - b||^2 (clamped at 0 in matrix()).
class SquaredEuclideanDistance : public Distance {
 public:
  at::Tensor matrix(const at::Tensor& a, const at::Tensor& b) const override;
  at::Tensor paired(const at::Tensor& a, const at::Tensor& b) const override;
  std::string name() const override { return "squared-euclidean"; }
};

// Dot product of the L2-normalised rows (a row of zeros stays zero), in [-1, 1].
class CosineSimilarity : public Distance {
 public:
  at::Tensor matrix(const at::Tensor& a, const at::Tensor& b) const override;
  at::Tensor paired(const at::Tensor& a, const at::Tensor& b) const override;
  bool is_similarity() const override { return true; }
  std::string name() const override { return "cosine"; }
};

}  // namespace imret::learn
