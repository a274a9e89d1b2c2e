#pragma once
// torchvision's region proposal network at inference: anchors of sizes 32,
// 64, 128, 256, 512 (one per pyramid level) and aspect ratios 0.5, 1, 2; a
// shared 3x3 conv head scoring and regressing every anchor; per level the
// top pre_nms_top_n anchors, decoded, clipped, small boxes removed, NMS per
// level, and the post_nms_top_n best proposals of each image.
#include <torch/types.h>

#include <vector>

#include "imret/detect/image_batch.hpp"
#include "imret/detect/resnet_fpn.hpp"

namespace imret::detect {

struct RpnOptions {
  int64_t pre_nms_top_n = 1000;   // per level and image
  int64_t post_nms_top_n = 1000;  // per image
  double nms_threshold = 0.7;
  double score_threshold = 0.0;
  double min_size = 1e-3;
};

// The anchors of one pyramid level: grid_h * grid_w * 3 boxes, location by
// location, for images batched to image_h x image_w.
torch::Tensor level_anchors(int64_t size, int64_t grid_h, int64_t grid_w, int64_t image_h, int64_t image_w,
                            const torch::TensorOptions& options);

class RegionProposalNetwork {
 public:
  RegionProposalNetwork(WeightTable& weights, RpnOptions options);

  // Proposals of each image (K x 4 in the resized image's pixels), best first.
  std::vector<torch::Tensor> forward(const ImageBatch& batch, const std::vector<torch::Tensor>& features) const;

  void visit(const TensorVisitor& visitor);

 private:
  RpnOptions options_;
  ConvLayer conv_, logits_, deltas_;
};

}  // namespace imret::detect
