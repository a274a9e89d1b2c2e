#include "imret/viz/pca.hpp"

#include <torch/torch.h>

#include <string>

#include "imret/core/error.hpp"

namespace imret::viz {

PcaResult pca(const at::Tensor& data, int64_t components) {
  if (data.dim() != 2 || data.size(0) < 2)
    throw UsageError("PCA needs an N x D matrix with N >= 2 (got " + std::to_string(data.dim()) + " dimensions)");
  const int64_t n = data.size(0), d = data.size(1);
  if (components < 1 || components > std::min(n, d))
    throw UsageError("PCA: " + std::to_string(components) + " components asked of " + std::to_string(n) + " x " +
                     std::to_string(d) + " data (1 to " + std::to_string(std::min(n, d)) + ")");
  const at::Tensor x = data.to(torch::kFloat64);
  const at::Tensor mean = x.mean(0);
  const at::Tensor centred = x - mean;
  const double total_variance = centred.pow(2).sum().item<double>() / static_cast<double>(n - 1);

  // The axes: eigenvectors of the D x D covariance when D <= N (cheap for
  // embeddings), else right singular vectors of the centred data.
  at::Tensor axes, variances;  // D x k, k
  if (d <= n) {
    const auto [values, vectors] = at::linalg_eigh(centred.t().mm(centred) / static_cast<double>(n - 1));
    axes = vectors.flip(1).narrow(1, 0, components);
    variances = values.flip(0).narrow(0, 0, components).clamp_min(0);
  } else {
    const auto [u, s, vh] = at::linalg_svd(centred, /*full_matrices=*/false);
    axes = vh.narrow(0, 0, components).t();
    variances = s.narrow(0, 0, components).pow(2) / static_cast<double>(n - 1);
  }
  at::Tensor projected = centred.mm(axes);
  // svd_flip (U-based): the largest-magnitude entry of each projected column is positive.
  const at::Tensor largest = projected.abs().argmax(0);
  const at::Tensor signs = projected.gather(0, largest.unsqueeze(0)).sign().squeeze(0);
  const at::Tensor flip = torch::where(signs == 0, torch::ones_like(signs), signs);
  projected = projected * flip;
  axes = axes * flip;

  PcaResult result;
  result.projected = projected.to(torch::kFloat32).contiguous();
  result.components = axes.t().to(torch::kFloat32).contiguous();
  result.mean = mean.to(torch::kFloat32);
  const at::Tensor v = variances.contiguous();
  for (int64_t i = 0; i < components; ++i) {
    const double value = v[i].item<double>();
    result.explained_variance.push_back(value);
    result.explained_variance_ratio.push_back(total_variance > 0 ? value / total_variance : 0.0);
  }
  return result;
}

}  // namespace imret::viz
