#pragma once
// Non-maximum suppression, as torchvision.ops.nms and torchvision.ops.batched_nms
// (torchvision 0.14): the same IoU formula, the same strict `IoU > iou_threshold`
// suppression, the same order among tied scores (nms: a stable descending sort,
// ties by increasing index; batched_nms's final sort: torch's default sort, not
// stable on the CPU beyond 16 values, as torchvision calls it).
// CPU tensors run a greedy loop over the sorted boxes; tensors on other devices
// compute the IoU > threshold matrix there, packed into 64-bit words as
// torchvision's CUDA kernel does, and run the greedy pass over the words on
// the CPU: one copy to the host per call. No custom CUDA kernel is needed.
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
// On the CPU this is torchvision's "vanilla" path (one nms per group, then the
// kept indices, in increasing order, sorted by decreasing score), which
// torchvision itself takes above 1000 boxes on the CPU. On other devices it is
// torchvision's coordinate trick, which torchvision takes below 5000 boxes
// there: the boxes offset per group by (largest coordinate + 1) x group, one
// nms over all groups at once (no host read per group; the order among equal
// scores is the stable sort's). The two keep the same boxes except where the
// offset's rounding moves an IoU across the threshold.
torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& groups,
                          double iou_threshold);

namespace detail {
// The non-CPU algorithm (IoU mask on the tensors' device, greedy pass on the
// CPU), callable on any device: nms() uses it for non-CPU tensors; tests run it
// on the CPU too. Same contract as nms().
torch::Tensor nms_by_mask(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold);
// batched_nms's non-CPU algorithm (the coordinate trick over nms_by_mask),
// callable on any device. Same contract as batched_nms() (groups checked by it).
torch::Tensor batched_nms_by_offsets(const torch::Tensor& boxes, const torch::Tensor& scores,
                                     const torch::Tensor& groups, double iou_threshold);
}  // namespace detail

}  // namespace imret::detect
