#include "imret/learn/distance.hpp"

#include <torch/torch.h>

#include "imret/core/error.hpp"

namespace imret::learn {

namespace {
constexpr double kMinSquaredDistance = 1e-12;

void check_rows(const at::Tensor& a, const at::Tensor& b, bool same_rows, const char* what) {
  if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(1) || (same_rows && a.size(0) != b.size(0))) {
    throw Error(std::string("distance ") + what + ": expected two 2-D tensors with the same number of columns" +
                (same_rows ? " and rows" : "") + ", got " + std::to_string(a.dim()) + "-D and " +
                std::to_string(b.dim()) + "-D tensors");
  }
}

// |x_i - y_j|^2 by |x|^2 + |y|^2 - 2 x.y, clamped at 0.
at::Tensor squared_matrix(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor aa = a.pow(2).sum(1, true);
  at::Tensor bb = b.pow(2).sum(1, true).t();
  return (aa + bb - 2 * at::mm(a, b.t())).clamp_min(0);
}

at::Tensor normalize_rows(const at::Tensor& x) {
  return torch::nn::functional::normalize(x, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1).eps(1e-12));
}
}  // namespace

at::Tensor EuclideanDistance::matrix(const at::Tensor& a, const at::Tensor& b) const {
  check_rows(a, b, false, "matrix");
  // ||(a_i + eps) - b_j|| == ||a_i - b_j + eps||.
  return squared_matrix(eps_ != 0 ? a + eps_ : a, b).clamp_min(kMinSquaredDistance).sqrt();
}

at::Tensor EuclideanDistance::paired(const at::Tensor& a, const at::Tensor& b) const {
  check_rows(a, b, true, "paired");
  at::Tensor diff = a - b;
  if (eps_ != 0) diff = diff + eps_;
  return diff.pow(2).sum(1).clamp_min(kMinSquaredDistance).sqrt();
}

at::Tensor SquaredEuclideanDistance::matrix(const at::Tensor& a, const at::Tensor& b) const {
  check_rows(a, b, false, "matrix");
  return squared_matrix(a, b);
}

at::Tensor SquaredEuclideanDistance::paired(const at::Tensor& a, const at::Tensor& b) const {
  check_rows(a, b, true, "paired");
  return (a - b).pow(2).sum(1);
}

at::Tensor CosineSimilarity::matrix(const at::Tensor& a, const at::Tensor& b) const {
  check_rows(a, b, false, "matrix");
  return at::mm(normalize_rows(a), normalize_rows(b).t());
}

at::Tensor CosineSimilarity::paired(const at::Tensor& a, const at::Tensor& b) const {
  check_rows(a, b, true, "paired");
  return (normalize_rows(a) * normalize_rows(b)).sum(1);
}

std::shared_ptr<Distance> make_distance(const std::string& name) {
  if (name == "euclidean") return std::make_shared<EuclideanDistance>();
  if (name == "squared-euclidean") return std::make_shared<SquaredEuclideanDistance>();
  if (name == "cosine") return std::make_shared<CosineSimilarity>();
  throw UsageError("unknown distance '" + name + "': expected euclidean, squared-euclidean or cosine");
}

}  // namespace imret::learn
