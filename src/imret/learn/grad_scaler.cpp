#include "imret/learn/grad_scaler.hpp"

#include <torch/torch.h>

#include <cmath>

#include "imret/core/error.hpp"

namespace imret::learn {

GradScaler::GradScaler(GradScalerOptions options) : options_(options), scale_(options.init_scale) {
  if (!(options.init_scale > 0) || !(options.growth_factor > 1) ||
      !(options.backoff_factor > 0 && options.backoff_factor < 1) || options.growth_interval < 1)
    throw UsageError(
        "gradient scaler: expected init_scale > 0, growth_factor > 1, 0 < backoff_factor < 1 and "
        "growth_interval >= 1");
}

at::Tensor GradScaler::scale_loss(const at::Tensor& loss) const { return loss * scale_; }

bool GradScaler::unscale(const std::vector<at::Tensor>& parameters) {
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> grads, peaks;
  for (const at::Tensor& p : parameters) {
    const at::Tensor& g = p.grad();
    if (!g.defined() || g.numel() == 0) continue;
    grads.push_back(g);
    // amax propagates NaN, and |inf| is inf: finite exactly when every element is.
    peaks.push_back(g.detach().abs().amax().to(torch::kFloat));
  }
  if (grads.empty()) return true;
  const bool finite = torch::stack(peaks).isfinite().all().item<bool>();
  // The inverse in double, then float, as PyTorch's scaler.
  const double inverse = static_cast<double>(static_cast<float>(1.0 / scale_));
  for (at::Tensor& g : grads) g.mul_(inverse);
  return finite;
}

void GradScaler::update(bool finite) {
  if (!finite) {
    scale_ *= options_.backoff_factor;
    good_steps_ = 0;
    ++skipped_;
    return;
  }
  if (++good_steps_ == options_.growth_interval) {
    // As PyTorch: the scale grows only while it stays finite.
    if (std::isfinite(scale_ * options_.growth_factor)) scale_ *= options_.growth_factor;
    good_steps_ = 0;
  }
}

}  // namespace imret::learn
