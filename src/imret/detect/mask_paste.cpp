#include "imret/detect/mask_paste.hpp"

#include <torch/torch.h>

namespace imret::detect {
namespace F = torch::nn::functional;

torch::Tensor paste_masks(const torch::Tensor& masks, const torch::Tensor& boxes, int64_t height, int64_t width,
                          double threshold) {
  const bool binary = threshold >= 0;
  torch::Tensor result =
      torch::zeros({masks.size(0), 1, height, width}, binary ? masks.options().dtype(torch::kUInt8) : masks.options());
  if (masks.size(0) == 0) return result;
  const int64_t m = masks.size(-1);
  const double scale = static_cast<double>(m + 2) / static_cast<double>(m);
  const torch::Tensor padded = F::pad(masks, F::PadFuncOptions({1, 1, 1, 1}));

  // The grown boxes, computed in the boxes' precision, truncated toward zero.
  const auto b = boxes.unbind(1);
  const torch::Tensor half_w = (b[2] - b[0]) * 0.5 * scale, half_h = (b[3] - b[1]) * 0.5 * scale;
  const torch::Tensor cx = (b[2] + b[0]) * 0.5, cy = (b[3] + b[1]) * 0.5;
  const torch::Tensor grown =
      torch::stack({cx - half_w, cy - half_h, cx + half_w, cy + half_h}, 1).to(torch::kInt64).cpu();
  const auto box = grown.accessor<int64_t, 2>();

  for (int64_t i = 0; i < masks.size(0); ++i) {
    const int64_t x0 = box[i][0], y0 = box[i][1], x1 = box[i][2], y1 = box[i][3];
    const int64_t w = std::max<int64_t>(x1 - x0 + 1, 1), h = std::max<int64_t>(y1 - y0 + 1, 1);
    const int64_t left = std::max<int64_t>(x0, 0), right = std::min<int64_t>(x1 + 1, width);
    const int64_t top = std::max<int64_t>(y0, 0), bottom = std::min<int64_t>(y1 + 1, height);
    if (right <= left || bottom <= top) continue;
    const torch::Tensor resized = F::interpolate(
        padded[i].unsqueeze(0),
        F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false))[0][0];
    const torch::Tensor window = resized.narrow(0, top - y0, bottom - top).narrow(1, left - x0, right - left);
    result[i][0]
        .narrow(0, top, bottom - top)
        .narrow(1, left, right - left)
        .copy_(binary ? (window > threshold).to(torch::kUInt8) : window);
  }
  return result;
}

}  // namespace imret::detect
