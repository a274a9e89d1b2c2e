#pragma once
// RoIAlign (Mask R-CNN), as torchvision.ops.roi_align (torchvision 0.14): bilinear
// samples on a regular grid in each output bin, averaged, with torchvision's edge
// rules (samples more than one pixel outside the feature map count 0; others are
// clamped onto it) and its float arithmetic, so that results agree to rounding.
// CPU tensors run a loop kernel (parallel over rois); tensors on other devices
// run the same computation as tensor operations (gathers, chunked to bound
// memory). No custom CUDA kernel is needed.
#include <torch/types.h>

#include <cstdint>

namespace imret::detect {

// torchvision.ops.roi_align: input N x C x H x W, rois K x 5 (batch index, x1, y1, x2, y2) in input-image
// coordinates, scaled by spatial_scale; output K x C x pooled_h x pooled_w. sampling_ratio <= 0 is adaptive
// (ceil(roi_size / pooled_size)), aligned shifts by -0.5 pixel.
// input is float32 or float64; rois are converted to input's type (torchvision
// requires them equal) and must be on its device; batch indices (truncated to
// integers, as torchvision does) must lie in [0, N). Bad shapes, types or
// indices throw imret::UsageError. Forward only: the result carries no
// gradient. One difference from torchvision, on purpose: a sample outside the
// map adds exactly 0, where torchvision adds 0 x the map's first pixel (NaN if
// that pixel is inf or NaN).
torch::Tensor roi_align(const torch::Tensor& input, const torch::Tensor& rois, int64_t pooled_h, int64_t pooled_w,
                        double spatial_scale, int64_t sampling_ratio, bool aligned);

namespace detail {
// The non-CPU algorithms (tensor operations), callable on any device:
// roi_align() uses them for non-CPU tensors; tests run them on the CPU too.
// max_chunk_elements bounds each gathered tensor (rois are processed in chunks).
// A fixed sampling grid (sampling_ratio > 0, as Faster and Mask R-CNN use):
// the sample positions and bilinear weights are computed on the device too;
// the only host read is the check of the batch indices.
torch::Tensor roi_align_fixed_grid(const torch::Tensor& input, const torch::Tensor& rois, int64_t pooled_h,
                                   int64_t pooled_w, double spatial_scale, int64_t sampling_ratio, bool aligned,
                                   int64_t max_chunk_elements = int64_t{1} << 22);
// The adaptive grid (sampling_ratio <= 0, a grid per roi): the positions and
// weights come from the host, grouped by grid size, the sums run on the device.
torch::Tensor roi_align_by_gather(const torch::Tensor& input, const torch::Tensor& rois, int64_t pooled_h,
                                  int64_t pooled_w, double spatial_scale, int64_t sampling_ratio, bool aligned,
                                  int64_t max_chunk_elements = int64_t{1} << 22);
}  // namespace detail

}  // namespace imret::detect
