#include "imret/detect/detector.hpp"

#include <torch/torch.h>

#include "imret/core/tensor_file.hpp"
#include "imret/detect/mask_paste.hpp"
#include "imret/models/autocast.hpp"

namespace imret::detect {

Detector::Detector(WeightTable table, const DetectorOptions& options)
    : arch_(table.has_prefix("roi_heads.mask_head.") ? DetectorArch::MaskRCNN : DetectorArch::FasterRCNN),
      options_(options),
      backbone_(table, options.bn_eps),
      rpn_(table, options.rpn),
      heads_(table, arch_, options.box) {
  table.finish();  // every missing, mis-shaped or unexpected key at once
}

Detector::Detector(TensorFile weights, const std::string& source, const DetectorOptions& options)
    : Detector(WeightTable(std::move(weights), source), options) {}

std::unique_ptr<Detector> Detector::load(const std::filesystem::path& file, const DetectorOptions& options) {
  return std::make_unique<Detector>(load_tensor_file(file), file.string(), options);
}

DetectorStages Detector::run(const std::vector<torch::Tensor>& images) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> on_device;
  for (const auto& image : images) on_device.push_back(image.to(device_));
  DetectorStages stages;
  stages.batch = make_image_batch(on_device, options_.resize);
  {
    models::PrecisionScope scope(options_.precision, device_.type());
    stages.features = backbone_.forward(stages.batch.images);
  }
  for (torch::Tensor& level : stages.features)
    if (level.scalar_type() != torch::kFloat) level = level.to(torch::kFloat);
  stages.proposals = rpn_.forward(stages.batch, stages.features);
  stages.detections = heads_.forward(stages.features, stages.proposals, stages.batch.sizes);
  for (size_t i = 0; i < images.size(); ++i) {
    Detections& d = stages.detections[i];
    const auto original = stages.batch.originals[i];
    d.boxes = boxes_to_original(d.boxes, stages.batch.sizes[i], original);
    if (d.masks.defined())
      d.masks = paste_masks(d.masks, d.boxes, original.first, original.second, options_.binary_masks ? 0.5 : -1);
  }
  return stages;
}

std::vector<Detections> Detector::detect(const std::vector<torch::Tensor>& images) { return run(images).detections; }

torch::Tensor pooled_pyramid_features(const DetectorStages& stages, size_t image) {
  const auto [height, width] = stages.batch.sizes[image];
  std::vector<torch::Tensor> pooled;
  for (size_t l = 0; l < stages.features.size(); ++l) {
    const torch::Tensor& level = stages.features[l];
    // Level l has stride 4 * 2^l; the image's area is the cells its pixels fall in.
    const int64_t stride_h = int64_t{4} << l, stride_w = stride_h;
    const int64_t h = std::min(level.size(2), (height + stride_h - 1) / stride_h);
    const int64_t w = std::min(level.size(3), (width + stride_w - 1) / stride_w);
    pooled.push_back(level[static_cast<int64_t>(image)].narrow(1, 0, h).narrow(2, 0, w).mean({1, 2}));
  }
  return torch::cat(pooled);
}

void Detector::visit(const TensorVisitor& visitor) {
  backbone_.visit(visitor);
  rpn_.visit(visitor);
  heads_.visit(visitor);
}

void Detector::to(const torch::Device& device) {
  visit([&](torch::Tensor& t) { t = t.to(device); });
  device_ = device;
}

}  // namespace imret::detect
