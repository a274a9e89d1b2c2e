#pragma once
// torchvision's RoI heads at inference: multi-scale RoIAlign over the four
// finest pyramid levels (a box goes to level floor(4 + log2(sqrt(area) /
// 224)), clamped), the two-layer box head and its predictor, per-class
// post-processing (softmax, score threshold, small boxes out, NMS per class,
// the best detections_per_image), and for Mask R-CNN the mask head, predictor
// and the predicted class's mask.
#include <torch/types.h>

#include <utility>
#include <vector>

#include "imret/detect/detections.hpp"
#include "imret/detect/detector_weights.hpp"
#include "imret/detect/resnet_fpn.hpp"

namespace imret::detect {

struct BoxHeadOptions {
  double score_threshold = 0.05;
  double nms_threshold = 0.5;
  int64_t detections_per_image = 100;
};

using ImageSizes = std::vector<std::pair<int64_t, int64_t>>;

// MultiScaleRoIAlign over features[0..3] (strides 4, 8, 16, 32): one box
// list per image (in the resized images' pixels) -> sum(K) x 256 x output x output.
torch::Tensor multiscale_roi_align(const std::vector<torch::Tensor>& features, const std::vector<torch::Tensor>& boxes,
                                   int64_t output_size, int64_t sampling_ratio);

class RoiHeads {
 public:
  RoiHeads(WeightTable& weights, DetectorArch arch, BoxHeadOptions options);

  int64_t num_classes() const { return num_classes_; }

  // Detections of each image in the resized image's pixels (masks are the
  // 28 x 28 probabilities of the predicted class, not pasted yet).
  std::vector<Detections> forward(const std::vector<torch::Tensor>& features,
                                  const std::vector<torch::Tensor>& proposals, const ImageSizes& image_sizes) const;

  void visit(const TensorVisitor& visitor);

 private:
  void predict_masks(const std::vector<torch::Tensor>& features, std::vector<Detections>& detections) const;

  BoxHeadOptions options_;
  bool masks_ = false;
  int64_t num_classes_ = 0;
  torch::Tensor fc6_w_, fc6_b_, fc7_w_, fc7_b_, cls_w_, cls_b_, bbox_w_, bbox_b_;
  std::vector<ConvLayer> mask_convs_;
  torch::Tensor mask_up_w_, mask_up_b_;
  ConvLayer mask_logits_;
};

}  // namespace imret::detect
