#include "imret/models/pooling.hpp"

#include <torch/torch.h>

#include <cmath>

#include "imret/core/error.hpp"
#include "imret/core/named_spec.hpp"

namespace imret::models {
namespace F = torch::nn::functional;

namespace {

constexpr double kClamp = 1e-6;  // gem's floor, and the normaliser's epsilon in rmac

torch::Tensor l2_normalised(const torch::Tensor& x) { return x / (x.norm(2, 1, true) + kClamp); }

torch::Tensor spatial_max(const torch::Tensor& x) { return std::get<0>(x.flatten(2).max(2)); }

// Gaussian weights over an H x W grid of pixel centres around the map's centre.
torch::Tensor centre_prior(int64_t height, int64_t width, const torch::TensorOptions& options) {
  const double sigma = static_cast<double>(std::min(height, width)) / 6.0;  // a third of half the short side
  torch::Tensor y = torch::arange(height, options) + 0.5 - height / 2.0;
  torch::Tensor x = torch::arange(width, options) + 0.5 - width / 2.0;
  return torch::exp(-(y.pow(2).unsqueeze(1) + x.pow(2).unsqueeze(0)) / (2 * sigma * sigma));
}

}  // namespace

std::string PoolSpec::to_string() const {
  if (kind == "gem") return "gem:p=" + spec_number(p);
  if (kind == "rmac") return "rmac:levels=" + std::to_string(levels);
  return kind;
}

const char* pool_names() { return "gap, mac, spoc, gem:p=3, rmac:levels=3"; }

PoolSpec parse_pool(const std::string& text, const std::string& option) {
  const std::string name = text.substr(0, text.find(':'));
  std::map<std::string, double> defaults;
  if (name == "gem") defaults = {{"p", 3}};
  else if (name == "rmac") defaults = {{"levels", 3}};
  else if (name != "gap" && name != "mac" && name != "spoc")
    throw UsageError(option + " '" + text + "': unknown pooling (known: " + pool_names() + ")");
  const NamedSpec parsed = parse_named_spec(text, option, defaults);
  PoolSpec spec;
  spec.kind = name;
  if (name == "gem") {
    spec.p = parsed.values.at("p");
    if (!(spec.p >= 0.1 && spec.p <= 100))
      throw UsageError(option + " '" + text + "': p must be in [0.1, 100] (1: mean, large: max)");
  }
  if (name == "rmac") {
    const double levels = parsed.values.at("levels");
    if (levels != std::floor(levels) || levels < 1 || levels > 10)
      throw UsageError(option + " '" + text + "': levels must be a whole number from 1 to 10");
    spec.levels = static_cast<int64_t>(levels);
  }
  return spec;
}

PoolingImpl::PoolingImpl(PoolSpec spec) : spec_(std::move(spec)) {
  if (spec_.kind == "gem") p_ = register_parameter("p", torch::full({1}, spec_.p));
}

std::vector<PoolRegion> rmac_regions(int64_t height, int64_t width, int64_t levels) {
  const double overlap = 0.4;  // wanted overlap of neighbouring regions
  const int64_t w = std::min(height, width);
  // How many extra regions the long side gets: the count whose overlap is nearest 40%.
  int64_t extra = 0;
  if (height != width) {
    // In float32, as cirtorch computes it: maps such as 10 x 18 are ties that double precision breaks otherwise.
    float best = 1e30f;
    for (int64_t steps = 2; steps <= 7; ++steps) {
      const float wf = static_cast<float>(w);
      const float b = static_cast<float>(std::max(height, width) - w) / static_cast<float>(steps - 1);
      const float miss = std::abs((wf * wf - wf * b) / (wf * wf) - static_cast<float>(overlap));
      if (miss < best) {
        best = miss;
        extra = steps - 1;
      }
    }
  }
  const int64_t extra_w = width > height ? extra : 0, extra_h = height > width ? extra : 0;
  std::vector<PoolRegion> regions;
  for (int64_t l = 1; l <= levels; ++l) {
    const int64_t size = static_cast<int64_t>(std::floor(2.0 * w / (l + 1)));
    if (size == 0) continue;
    const double half = std::floor(size / 2.0 - 1);
    const auto starts = [&](int64_t side, int64_t count_extra) {
      std::vector<int64_t> out;
      const int64_t count = l + count_extra;
      const double step = count == 1 ? 0.0 : static_cast<double>(side - size) / static_cast<double>(count - 1);
      for (int64_t i = 0; i < count; ++i) out.push_back(static_cast<int64_t>(std::floor(half + i * step) - half));
      return out;
    };
    for (int64_t top : starts(height, extra_h))
      for (int64_t left : starts(width, extra_w)) regions.push_back({top, left, size});
  }
  return regions;
}

torch::Tensor PoolingImpl::forward(const torch::Tensor& map) {
  if (map.dim() != 4)
    throw UsageError("pooling " + spec_.to_string() + " needs a feature map (N x C x H x W), got " +
                     std::to_string(map.dim()) + " dimensions");
  // Pooling is float32 under any --precision (autocast.hpp): GeM's powers and
  // R-MAC's region sums lose too much in 8 bits of mantissa.
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  const torch::Tensor features = map.scalar_type() == torch::kBFloat16 || map.scalar_type() == torch::kHalf
                                     ? map.to(torch::kFloat)
                                     : map;
  const std::string& kind = spec_.kind;
  if (kind == "gap") return F::adaptive_avg_pool2d(features, F::AdaptiveAvgPool2dFuncOptions(1)).flatten(1);
  if (kind == "mac") return spatial_max(features);
  if (kind == "spoc") {
    const torch::Tensor prior = centre_prior(features.size(2), features.size(3), features.options());
    return (features * prior).sum({2, 3});
  }
  if (kind == "gem") {
    // (mean x^p)^(1/p) = m (mean (x/m)^p)^(1/p), m the maximum: x^p alone overflows float32
    // for x above 3.4e38^(1/p) (2.4 at p = 100).
    const torch::Tensor p = p_.to(features.dtype());
    const torch::Tensor x = features.clamp_min(kClamp);
    const torch::Tensor m = std::get<0>(x.flatten(2).max(2)).detach();
    return m * (x / m.unsqueeze(2).unsqueeze(3)).pow(p.view({1, 1, 1, 1})).mean({2, 3}).pow(1.0 / p);
  }
  // rmac
  torch::Tensor sum = l2_normalised(spatial_max(features));
  for (const PoolRegion& r : rmac_regions(features.size(2), features.size(3), spec_.levels))
    sum = sum + l2_normalised(spatial_max(features.slice(2, r.top, r.top + r.size).slice(3, r.left, r.left + r.size)));
  return sum;
}

}  // namespace imret::models
