#pragma once
// Principal component analysis, as scikit-learn's PCA computes it (centred
// data, components ordered by variance, signs fixed by svd_flip), in float64.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace imret::viz {

struct PcaResult {
  at::Tensor projected;   // N x k float32: the data in the principal axes
  at::Tensor components;  // k x D float32: the axes (sklearn's components_)
  at::Tensor mean;        // D float32: what was subtracted
  std::vector<double> explained_variance;        // k: variance along each axis (divided by N - 1)
  std::vector<double> explained_variance_ratio;  // k: its share of the total variance
};

// data: N x D (any float dtype, CPU), N >= 2; 1 <= components <= min(N, D).
// Signs follow sklearn 1.2's svd_flip: in each projected column the entry of
// largest magnitude is positive. Throws imret::UsageError otherwise.
PcaResult pca(const at::Tensor& data, int64_t components);

}  // namespace imret::viz
