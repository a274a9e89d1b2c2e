#pragma once
// torchvision's GeneralizedRCNNTransform at inference: each image is
// normalised with ImageNet's mean and std, resized so that its short side is
// min_size unless that makes its long side longer than max_size (bilinear),
// and the images are batched, zero-padded at the bottom and right to a
// multiple of 32.
#include <torch/types.h>

#include <utility>
#include <vector>

namespace imret::detect {

struct ResizeOptions {
  double min_size = 800;
  double max_size = 1333;
  int64_t size_divisible = 32;
};

struct ImageBatch {
  torch::Tensor images;                                // N x 3 x H x W, padded
  std::vector<std::pair<int64_t, int64_t>> sizes;      // (height, width) of each image after resizing
  std::vector<std::pair<int64_t, int64_t>> originals;  // (height, width) of each image as given
};

// The (height, width) torchvision resizes an image of this size to.
std::pair<int64_t, int64_t> resized_size(int64_t height, int64_t width, const ResizeOptions& options);

// Images are 3 x H x W float RGB in [0, 1], all on one device.
ImageBatch make_image_batch(const std::vector<torch::Tensor>& images, const ResizeOptions& options);

// Boxes of a resized image back in the original image's pixels.
torch::Tensor boxes_to_original(const torch::Tensor& boxes, std::pair<int64_t, int64_t> resized,
                                std::pair<int64_t, int64_t> original);

}  // namespace imret::detect
