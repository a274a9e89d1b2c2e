#pragma once
// Non-maximum suppression, as torchvision.ops.nms and torchvision.ops.batched_nms
// (torchvision 0.14): the same IoU formula, the same strict `IoU > iou_threshold`
// suppression, the same order among tied scores (nms: a stable descending sort,
// ties by increasing index; batched_nms's final sort: torch's default sort, not
// stable on the CPU beyond 16 values, as torchvision calls it).
// CPU tensors run a greedy loop over the sorted boxes; tensors on other devices
// compute the IoU > threshold matrix there, in row chunks, and run the greedy
// pass on the CPU. No custom CUDA kernel is needed.
#include <torch/types.h>

namespace imret::detect {

// Greedy non-maximum suppression, as torchvision.ops.nms: boxes K x 4 (x1, y1, x2, y2) float, scores K.
// Returns the int64 indices of the kept boxes (on the boxes' device), by decreasing score.
// Boxes are float32 or float64 (the IoU is computed in that type); scores any
// floating type on the same device. Bad shapes or types throw imret::UsageError.
torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold);

// NMS independently per group (groups: K int64, e.g. class or pyramid level), as torchvision.ops.batched_nms;
// returns kept indices sorted by decreasing score.
// (On CUDA, the order among equal scores in that last sort is CUDA's sort's.)
// This is torchvision's "vanilla" path (one nms per group, then the kept
// indices, in increasing order, sorted by decreasing score), which torchvision
// itself takes above 1000 boxes on the CPU (20000 elsewhere); below that it
// offsets the boxes per group instead, which keeps the same boxes except where
// the offset's rounding moves an IoU across the threshold or scores tie.
torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& groups,
                          double iou_threshold);

namespace detail {
// The non-CPU algorithm (IoU mask on the tensors' device, greedy pass on the
// CPU), callable on any device: nms() uses it for non-CPU tensors; tests run it
// on the CPU too. Same contract as nms().
torch::Tensor nms_by_mask(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold);
}  // namespace detail

}  // namespace imret::detect
