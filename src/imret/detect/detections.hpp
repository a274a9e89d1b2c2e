#pragma once
// What a detector finds in one image, in that image's pixel coordinates.
#include <torch/types.h>

namespace imret::detect {

struct Detections {
  torch::Tensor boxes;   // K x 4 float32, (x1, y1, x2, y2), sorted by score, highest first
  torch::Tensor scores;  // K float32
  torch::Tensor labels;  // K int64: torchvision's COCO category ids (1..90, with COCO's gaps)
  torch::Tensor masks;   // K x 1 x H x W float32 mask probabilities (Mask R-CNN), undefined otherwise
  // The box head's representation (K x 1024 float32) of each detection's
  // proposal: a per-object descriptor for retrieval.
  torch::Tensor features;

  int64_t size() const { return boxes.defined() ? boxes.size(0) : 0; }
  bool has_masks() const { return masks.defined(); }
};

}  // namespace imret::detect
