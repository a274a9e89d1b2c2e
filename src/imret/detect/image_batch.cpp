#include "imret/detect/image_batch.hpp"

#include <torch/torch.h>

#include <cmath>

#include "imret/core/error.hpp"

namespace imret::detect {
namespace F = torch::nn::functional;

namespace {

// torchvision computes the scale in float32 as `min_size / short_side`, a
// Python number over a tensor, which torch evaluates as the reciprocal times
// the number; the size is floor(size * scale) in double.
float resize_scale(int64_t height, int64_t width, const ResizeOptions& options) {
  const float short_side = static_cast<float>(std::min(height, width));
  const float long_side = static_cast<float>(std::max(height, width));
  return std::min((1.0f / short_side) * static_cast<float>(options.min_size),
                  (1.0f / long_side) * static_cast<float>(options.max_size));
}

}  // namespace

std::pair<int64_t, int64_t> resized_size(int64_t height, int64_t width, const ResizeOptions& options) {
  const double scale = resize_scale(height, width, options);
  return {static_cast<int64_t>(std::floor(static_cast<double>(height) * scale)),
          static_cast<int64_t>(std::floor(static_cast<double>(width) * scale))};
}

ImageBatch make_image_batch(const std::vector<torch::Tensor>& images, const ResizeOptions& options) {
  if (images.empty()) throw UsageError("detection needs at least one image");
  ImageBatch batch;
  std::vector<torch::Tensor> resized;
  int64_t max_h = 0, max_w = 0;
  const auto device = images.front().device();
  const torch::Tensor mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({3, 1, 1}).to(device);
  const torch::Tensor std = torch::tensor({0.229f, 0.224f, 0.225f}).view({3, 1, 1}).to(device);
  for (const auto& image : images) {
    if (image.dim() != 3 || image.size(0) != 3 || image.size(1) < 1 || image.size(2) < 1)
      throw UsageError("detection needs 3 x H x W RGB images");
    const torch::Tensor normalized = (image.to(device, torch::kFloat32) - mean) / std;
    const auto [h, w] = resized_size(image.size(1), image.size(2), options);
    if (h < 1 || w < 1)
      throw UsageError("an image of " + std::to_string(image.size(1)) + " x " + std::to_string(image.size(2)) +
                       " pixels is too thin to detect in");
    resized.push_back(F::interpolate(
        normalized.unsqueeze(0),
        F::InterpolateFuncOptions().size(std::vector<int64_t>{h, w}).mode(torch::kBilinear).align_corners(false))[0]);
    batch.sizes.emplace_back(h, w);
    batch.originals.emplace_back(image.size(1), image.size(2));
    max_h = std::max(max_h, h);
    max_w = std::max(max_w, w);
  }
  const double stride = static_cast<double>(options.size_divisible);
  max_h = static_cast<int64_t>(std::ceil(static_cast<double>(max_h) / stride) * stride);
  max_w = static_cast<int64_t>(std::ceil(static_cast<double>(max_w) / stride) * stride);
  batch.images = torch::zeros({static_cast<int64_t>(images.size()), 3, max_h, max_w}, resized.front().options());
  for (size_t i = 0; i < resized.size(); ++i)
    batch.images[static_cast<int64_t>(i)]
        .narrow(1, 0, resized[i].size(1))
        .narrow(2, 0, resized[i].size(2))
        .copy_(resized[i]);
  return batch;
}

torch::Tensor boxes_to_original(const torch::Tensor& boxes, std::pair<int64_t, int64_t> resized,
                                std::pair<int64_t, int64_t> original) {
  const float ratio_h = static_cast<float>(original.first) / static_cast<float>(resized.first);
  const float ratio_w = static_cast<float>(original.second) / static_cast<float>(resized.second);
  const auto b = boxes.unbind(1);
  return torch::stack({b[0] * ratio_w, b[1] * ratio_h, b[2] * ratio_w, b[3] * ratio_h}, 1);
}

}  // namespace imret::detect
