#include "imret/detect/box_ops.hpp"

#include <torch/torch.h>

namespace imret::detect {

using torch::indexing::None;
using torch::indexing::Slice;

torch::Tensor BoxCoder::decode(const torch::Tensor& deltas, const torch::Tensor& references) const {
  const torch::Tensor boxes = references.to(deltas.scalar_type());
  const torch::Tensor widths = boxes.select(1, 2) - boxes.select(1, 0);
  const torch::Tensor heights = boxes.select(1, 3) - boxes.select(1, 1);
  const torch::Tensor ctr_x = boxes.select(1, 0) + 0.5 * widths;
  const torch::Tensor ctr_y = boxes.select(1, 1) + 0.5 * heights;

  const torch::Tensor dx = deltas.index({Slice(), Slice(0, None, 4)}) / weights[0];
  const torch::Tensor dy = deltas.index({Slice(), Slice(1, None, 4)}) / weights[1];
  const torch::Tensor dw = (deltas.index({Slice(), Slice(2, None, 4)}) / weights[2]).clamp_max(clip);
  const torch::Tensor dh = (deltas.index({Slice(), Slice(3, None, 4)}) / weights[3]).clamp_max(clip);

  const torch::Tensor pred_ctr_x = dx * widths.unsqueeze(1) + ctr_x.unsqueeze(1);
  const torch::Tensor pred_ctr_y = dy * heights.unsqueeze(1) + ctr_y.unsqueeze(1);
  const torch::Tensor half_w = 0.5 * (dw.exp() * widths.unsqueeze(1));
  const torch::Tensor half_h = 0.5 * (dh.exp() * heights.unsqueeze(1));
  return torch::stack({pred_ctr_x - half_w, pred_ctr_y - half_h, pred_ctr_x + half_w, pred_ctr_y + half_h}, 2);
}

torch::Tensor clip_boxes(const torch::Tensor& boxes, int64_t height, int64_t width) {
  const torch::Tensor x = boxes.index({"...", Slice(0, None, 2)}).clamp(0, static_cast<double>(width));
  const torch::Tensor y = boxes.index({"...", Slice(1, None, 2)}).clamp(0, static_cast<double>(height));
  return torch::stack({x, y}, -1).reshape(boxes.sizes());
}

torch::Tensor large_boxes(const torch::Tensor& boxes, double min_size) {
  const torch::Tensor ws = boxes.select(1, 2) - boxes.select(1, 0);
  const torch::Tensor hs = boxes.select(1, 3) - boxes.select(1, 1);
  return torch::where((ws >= min_size).logical_and_(hs >= min_size))[0];
}

torch::Tensor box_area(const torch::Tensor& boxes) {
  return (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
}

}  // namespace imret::detect
