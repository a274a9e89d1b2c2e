#pragma once
// Box arithmetic of torchvision's detectors, boxes as K x 4 (x1, y1, x2, y2).
#include <torch/types.h>

#include <array>

namespace imret::detect {

// torchvision's BoxCoder (inference half): decodes regression deltas
// (dx, dy, dw, dh) / weights relative to reference boxes, with dw and dh
// clamped to log(1000 / 16) before exp.
struct BoxCoder {
  std::array<double, 4> weights = {1, 1, 1, 1};
  double clip = 4.135166556742356;  // log(1000 / 16)

  // deltas K x (4 * M), references K x 4 -> K x M x 4 boxes.
  torch::Tensor decode(const torch::Tensor& deltas, const torch::Tensor& references) const;
};

// x clamped to [0, width], y to [0, height].
torch::Tensor clip_boxes(const torch::Tensor& boxes, int64_t height, int64_t width);

// Indices of the boxes at least min_size wide and high.
torch::Tensor large_boxes(const torch::Tensor& boxes, double min_size);

// (x2 - x1) * (y2 - y1).
torch::Tensor box_area(const torch::Tensor& boxes);

}  // namespace imret::detect
