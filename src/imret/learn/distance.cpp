#include "imret/learn/distance.hpp"

#include <torch/torch.h>

#include <functional>

#include "imret/core/error.hpp"
#include "imret/learn/registry.hpp"

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

namespace {

DistanceDescriptor describe(std::string name, std::string help, bool learned, search::Metric normalized_metric,
                          search::Metric raw_metric, std::function<std::shared_ptr<Distance>()> make) {
  DistanceDescriptor d;
  d.name = std::move(name);
  d.help = std::move(help);
  d.learned = learned;
  d.normalized_metric = normalized_metric;
  d.raw_metric = raw_metric;
  d.make = std::move(make);
  return d;
}

}  // namespace

// The distances, in the order help texts and errors list them (registry.cpp's distances()).
const std::vector<const DistanceDescriptor*>& builtin_distances() {
  using search::Metric;
  static const std::vector<DistanceDescriptor> all = {
      describe("euclidean", "", false, Metric::Cosine, Metric::Euclidean,
               [] { return std::make_shared<EuclideanDistance>(); }),
      describe("squared-euclidean", "", false, Metric::Cosine, Metric::Euclidean,
               [] { return std::make_shared<SquaredEuclideanDistance>(); }),
      describe("cosine", "", false, Metric::Cosine, Metric::Cosine, [] { return std::make_shared<CosineSimilarity>(); }),
      // The map lives in the network (models::NetworkSpec::learned_metric); the loss sees Euclidean distances of its output.
      describe("mahalanobis", "a learned linear map L, d = ||L(x - y)||", true, Metric::Euclidean, Metric::Euclidean,
               [] { return std::make_shared<EuclideanDistance>(); }),
  };
  static const std::vector<const DistanceDescriptor*> pointers = pointers_to(all);
  return pointers;
}

std::shared_ptr<Distance> make_distance(const std::string& name) {
  std::vector<std::string> names;
  for (const DistanceDescriptor* d : distances()) {
    if (d->learned) continue;
    if (d->name == name) return d->make();
    names.push_back(d->name);
  }
  throw UsageError("unknown distance '" + name + "': expected " + or_list(names));
}

}  // namespace imret::learn
