#pragma once
// Mask R-CNN's masks pasted into the image, as torchvision does: each M x M
// mask is padded by one pixel, its box grown by (M + 2) / M about its centre
// and truncated to integers, the mask resized (bilinear) to that box and
// copied into an image-sized canvas of zeros.
#include <torch/types.h>

namespace imret::detect {

// masks K x 1 x M x M probabilities, boxes K x 4 in the image's pixels ->
// K x 1 x height x width probabilities, or with threshold >= 0 uint8 0/1
// (probability above the threshold).
torch::Tensor paste_masks(const torch::Tensor& masks, const torch::Tensor& boxes, int64_t height, int64_t width,
                          double threshold = -1);

}  // namespace imret::detect
