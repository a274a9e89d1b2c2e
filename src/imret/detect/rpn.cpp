#include "imret/detect/rpn.hpp"

#include <torch/torch.h>

#include "imret/detect/box_ops.hpp"
#include "imret/detect/nms.hpp"

namespace imret::detect {

namespace {

constexpr int64_t kAnchorsPerLocation = 3;
constexpr int64_t kAnchorSizes[] = {32, 64, 128, 256, 512};

// torchvision's cell anchors: widths and heights of size / sqrt(ratio) and
// size * sqrt(ratio), centred on 0, rounded (half to even), in float32.
torch::Tensor cell_anchors(int64_t size, const torch::TensorOptions& options) {
  const torch::Tensor ratios = torch::tensor({0.5f, 1.0f, 2.0f}, options);
  const torch::Tensor h_ratios = ratios.sqrt();
  const torch::Tensor w_ratios = h_ratios.reciprocal();  // Python's 1 / tensor
  const torch::Tensor ws = w_ratios * static_cast<float>(size);
  const torch::Tensor hs = h_ratios * static_cast<float>(size);
  return (torch::stack({-ws, -hs, ws, hs}, 1) / 2).round();
}

}  // namespace

torch::Tensor level_anchors(int64_t size, int64_t grid_h, int64_t grid_w, int64_t image_h, int64_t image_w,
                            const torch::TensorOptions& options) {
  const int64_t stride_h = image_h / grid_h, stride_w = image_w / grid_w;
  const auto int_options = options.dtype(torch::kInt32);
  const torch::Tensor shifts_x = torch::arange(0, grid_w, int_options) * stride_w;
  const torch::Tensor shifts_y = torch::arange(0, grid_h, int_options) * stride_h;
  const auto grid = torch::meshgrid({shifts_y, shifts_x}, "ij");
  const torch::Tensor shift_y = grid[0].reshape(-1), shift_x = grid[1].reshape(-1);
  const torch::Tensor shifts = torch::stack({shift_x, shift_y, shift_x, shift_y}, 1);
  return (shifts.view({-1, 1, 4}) + cell_anchors(size, options).view({1, -1, 4})).reshape({-1, 4});
}

RegionProposalNetwork::RegionProposalNetwork(WeightTable& weights, RpnOptions options) : options_(options) {
  const int64_t c = ResNetFpn::kChannels;
  conv_ = conv_with_bias(weights, "rpn.head.conv.0.0.", {c, c, 3, 3}, 1, 1);
  logits_ = conv_with_bias(weights, "rpn.head.cls_logits.", {kAnchorsPerLocation, c, 1, 1}, 1, 0);
  deltas_ = conv_with_bias(weights, "rpn.head.bbox_pred.", {4 * kAnchorsPerLocation, c, 1, 1}, 1, 0);
}

std::vector<torch::Tensor> RegionProposalNetwork::forward(const ImageBatch& batch,
                                                          const std::vector<torch::Tensor>& features) const {
  const int64_t n = batch.images.size(0);
  const int64_t image_h = batch.images.size(2), image_w = batch.images.size(3);
  const auto options = features.front().options();

  // Per level: objectness N x (H*W*A) and deltas N x (H*W*A) x 4 in
  // location-major, anchor-minor order, and that level's anchors.
  std::vector<torch::Tensor> objectness, deltas, anchors;
  for (size_t level = 0; level < features.size(); ++level) {
    const torch::Tensor& feature = features[level];
    const int64_t h = feature.size(2), w = feature.size(3);
    const torch::Tensor t = conv_.forward(feature).relu_();
    objectness.push_back(logits_.forward(t).permute({0, 2, 3, 1}).reshape({n, -1}));
    deltas.push_back(
        deltas_.forward(t).view({n, kAnchorsPerLocation, 4, h, w}).permute({0, 3, 4, 1, 2}).reshape({n, -1, 4}));
    anchors.push_back(level_anchors(kAnchorSizes[level], h, w, image_h, image_w, options));
  }
  const BoxCoder coder;
  std::vector<torch::Tensor> proposals;
  for (int64_t i = 0; i < n; ++i) {
    // The pre_nms_top_n best anchors of each level, decoded.
    std::vector<torch::Tensor> boxes, scores, levels;
    for (size_t level = 0; level < features.size(); ++level) {
      const torch::Tensor logits = objectness[level][i];
      const int64_t k = std::min(options_.pre_nms_top_n, logits.size(0));
      const torch::Tensor top = std::get<1>(logits.topk(k));
      const torch::Tensor decoded =
          coder.decode(deltas[level][i].index_select(0, top), anchors[level].index_select(0, top)).view({-1, 4});
      boxes.push_back(decoded);
      scores.push_back(logits.index_select(0, top).sigmoid());
      levels.push_back(torch::full({k}, static_cast<int64_t>(level), options.dtype(torch::kInt64)));
    }
    torch::Tensor box = clip_boxes(torch::cat(boxes), batch.sizes[i].first, batch.sizes[i].second);
    torch::Tensor score = torch::cat(scores), level = torch::cat(levels);
    torch::Tensor keep = large_boxes(box, options_.min_size);
    box = box.index_select(0, keep), score = score.index_select(0, keep), level = level.index_select(0, keep);
    keep = torch::where(score >= options_.score_threshold)[0];
    box = box.index_select(0, keep), score = score.index_select(0, keep), level = level.index_select(0, keep);
    keep = batched_nms(box, score, level, options_.nms_threshold);
    keep = keep.narrow(0, 0, std::min(options_.post_nms_top_n, keep.size(0)));
    proposals.push_back(box.index_select(0, keep));
  }
  return proposals;
}

void RegionProposalNetwork::visit(const TensorVisitor& visitor) {
  for (ConvLayer* layer : {&conv_, &logits_, &deltas_}) {
    visitor(layer->weight);
    visitor(layer->bias);
  }
}

}  // namespace imret::detect
