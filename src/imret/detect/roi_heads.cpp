#include "imret/detect/roi_heads.hpp"

#include <torch/torch.h>

#include "imret/detect/box_ops.hpp"
#include "imret/detect/nms.hpp"
#include "imret/detect/roi_align.hpp"

namespace imret::detect {

namespace {

constexpr int64_t kBoxPool = 7, kMaskPool = 14, kSamplingRatio = 2, kRepresentation = 1024;

}  // namespace

torch::Tensor multiscale_roi_align(const std::vector<torch::Tensor>& features, const std::vector<torch::Tensor>& boxes,
                                   int64_t output_size, int64_t sampling_ratio) {
  // torchvision infers the levels' scales from the first batch it sees:
  // 1/4, 1/8, 1/16, 1/32 for any image that is not a few pixels thin.
  constexpr size_t kLevels = 4;
  constexpr int64_t k_min = 2, k_max = 5;
  std::vector<torch::Tensor> rois;
  for (size_t i = 0; i < boxes.size(); ++i)
    rois.push_back(
        torch::cat({torch::full({boxes[i].size(0), 1}, static_cast<double>(i), boxes[i].options()), boxes[i]}, 1));
  const torch::Tensor all_boxes = torch::cat(boxes);
  const torch::Tensor all_rois = torch::cat(rois);
  const int64_t count = all_rois.size(0);
  const int64_t channels = features.front().size(1);

  // torchvision's LevelMapper (canonical box 224 at level 4, eps 1e-6).
  const torch::Tensor s = box_area(all_boxes).sqrt();
  const torch::Tensor target = torch::floor(4 + torch::log2(s / 224) + torch::tensor(1e-6f, s.options()))
                                   .clamp(static_cast<double>(k_min), static_cast<double>(k_max));
  const torch::Tensor levels = target.to(torch::kInt64) - k_min;

  torch::Tensor result = torch::zeros({count, channels, output_size, output_size}, features.front().options());
  for (size_t level = 0; level < kLevels; ++level) {
    const torch::Tensor index = torch::where(levels == static_cast<int64_t>(level))[0];
    if (index.numel() == 0) continue;
    const double scale = 1.0 / static_cast<double>(int64_t{4} << level);
    result.index_put_({index}, roi_align(features[level], all_rois.index_select(0, index), output_size, output_size,
                                         scale, sampling_ratio, false));
  }
  return result;
}

RoiHeads::RoiHeads(WeightTable& weights, DetectorArch arch, BoxHeadOptions options)
    : options_(options), masks_(arch == DetectorArch::MaskRCNN) {
  const std::string box = "roi_heads.box_head.", predictor = "roi_heads.box_predictor.";
  const int64_t c = ResNetFpn::kChannels;
  num_classes_ = weights.size_of(predictor + "cls_score.weight", 0, 91);
  fc6_w_ = weights.take(box + "fc6.weight", {kRepresentation, c * kBoxPool * kBoxPool});
  fc6_b_ = weights.take(box + "fc6.bias", {kRepresentation});
  fc7_w_ = weights.take(box + "fc7.weight", {kRepresentation, kRepresentation});
  fc7_b_ = weights.take(box + "fc7.bias", {kRepresentation});
  cls_w_ = weights.take(predictor + "cls_score.weight", {num_classes_, kRepresentation});
  cls_b_ = weights.take(predictor + "cls_score.bias", {num_classes_});
  bbox_w_ = weights.take(predictor + "bbox_pred.weight", {4 * num_classes_, kRepresentation});
  bbox_b_ = weights.take(predictor + "bbox_pred.bias", {4 * num_classes_});
  if (!masks_) return;
  for (int i = 0; i < 4; ++i)
    mask_convs_.push_back(
        conv_with_bias(weights, "roi_heads.mask_head." + std::to_string(i) + ".0.", {c, c, 3, 3}, 1, 1));
  mask_up_w_ = weights.take("roi_heads.mask_predictor.conv5_mask.weight", {c, c, 2, 2});
  mask_up_b_ = weights.take("roi_heads.mask_predictor.conv5_mask.bias", {c});
  mask_logits_ = conv_with_bias(weights, "roi_heads.mask_predictor.mask_fcn_logits.", {num_classes_, c, 1, 1}, 1, 0);
}

std::vector<Detections> RoiHeads::forward(const std::vector<torch::Tensor>& features,
                                          const std::vector<torch::Tensor>& proposals,
                                          const ImageSizes& image_sizes) const {
  const torch::Tensor pooled = multiscale_roi_align(features, proposals, kBoxPool, kSamplingRatio);
  torch::Tensor x = torch::linear(pooled.flatten(1), fc6_w_, fc6_b_).relu_();
  const torch::Tensor representation = torch::linear(x, fc7_w_, fc7_b_).relu_();
  const torch::Tensor class_logits = torch::linear(representation, cls_w_, cls_b_);
  const torch::Tensor box_regression = torch::linear(representation, bbox_w_, bbox_b_);

  BoxCoder coder;
  coder.weights = {10, 10, 5, 5};
  const int64_t classes = num_classes_;
  std::vector<Detections> results;
  int64_t offset = 0;
  for (size_t i = 0; i < proposals.size(); ++i) {
    const int64_t k = proposals[i].size(0);
    const auto [height, width] = image_sizes[i];
    torch::Tensor boxes = clip_boxes(coder.decode(box_regression.narrow(0, offset, k), proposals[i]), height, width);
    torch::Tensor scores = torch::softmax(class_logits.narrow(0, offset, k), -1);
    // Every (proposal, class) pair but the background is a candidate.
    boxes = boxes.narrow(1, 1, classes - 1).reshape({-1, 4});
    scores = scores.narrow(1, 1, classes - 1).reshape(-1);
    torch::Tensor candidates = torch::where(scores > options_.score_threshold)[0];
    candidates = candidates.index_select(0, large_boxes(boxes.index_select(0, candidates), 1e-2));
    const torch::Tensor labels = candidates.remainder(classes - 1) + 1;
    torch::Tensor keep = batched_nms(boxes.index_select(0, candidates), scores.index_select(0, candidates), labels,
                                     options_.nms_threshold);
    keep = keep.narrow(0, 0, std::min(options_.detections_per_image, keep.size(0)));
    const torch::Tensor kept = candidates.index_select(0, keep);
    Detections d;
    d.boxes = boxes.index_select(0, kept);
    d.scores = scores.index_select(0, kept);
    d.labels = labels.index_select(0, keep);
    d.features = representation.narrow(0, offset, k).index_select(0, kept.div(classes - 1, "floor"));
    results.push_back(std::move(d));
    offset += k;
  }
  if (masks_) predict_masks(features, results);
  return results;
}

void RoiHeads::predict_masks(const std::vector<torch::Tensor>& features, std::vector<Detections>& detections) const {
  std::vector<torch::Tensor> boxes, labels;
  for (const auto& d : detections) {
    boxes.push_back(d.boxes);
    labels.push_back(d.labels);
  }
  torch::Tensor x = multiscale_roi_align(features, boxes, kMaskPool, kSamplingRatio);
  if (x.size(0) == 0) {
    for (auto& d : detections) d.masks = torch::zeros({0, 1, 2 * kMaskPool, 2 * kMaskPool}, x.options());
    return;
  }
  for (const auto& conv : mask_convs_) x = conv.forward(x).relu_();
  x = torch::conv_transpose2d(x, mask_up_w_, mask_up_b_, {2, 2}).relu_();
  const torch::Tensor logits = mask_logits_.forward(x);
  const torch::Tensor all_labels = torch::cat(labels);
  const torch::Tensor index = torch::arange(logits.size(0), all_labels.options());
  const torch::Tensor probabilities = logits.sigmoid().index({index, all_labels}).unsqueeze(1);
  int64_t offset = 0;
  for (auto& d : detections) {
    d.masks = probabilities.narrow(0, offset, d.size());
    offset += d.size();
  }
}

void RoiHeads::visit(const TensorVisitor& visitor) {
  for (torch::Tensor* t : {&fc6_w_, &fc6_b_, &fc7_w_, &fc7_b_, &cls_w_, &cls_b_, &bbox_w_, &bbox_b_})
    if (t->defined()) visitor(*t);
  if (!masks_) return;
  for (auto& conv : mask_convs_) {
    visitor(conv.weight);
    visitor(conv.bias);
  }
  visitor(mask_up_w_);
  visitor(mask_up_b_);
  visitor(mask_logits_.weight);
  visitor(mask_logits_.bias);
}

}  // namespace imret::detect
