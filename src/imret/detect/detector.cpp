#include "imret/detect/detector.hpp"

#include <torch/torch.h>

#include "imret/core/tensor_file.hpp"
#include "imret/detect/mask_paste.hpp"

namespace imret::detect {

// The members are built in order from one table of the file's tensors; the
// table reports every missing, mis-shaped or unexpected key at once.
Detector::Detector(TensorFile weights, const std::string& source, const DetectorOptions& options)
    : arch_(detector_arch_of(weights)),
      options_(options),
      table_(std::move(weights), source),
      backbone_(table_, options.bn_eps),
      rpn_(table_, options.rpn),
      heads_(table_, arch_, options.box) {
  table_.finish();
  table_ = WeightTable({}, source);  // the tensors now live in the stages
}

std::unique_ptr<Detector> Detector::load(const std::filesystem::path& file, const DetectorOptions& options) {
  return std::make_unique<Detector>(load_tensor_file(file), file.string(), options);
}

DetectorStages Detector::run(const std::vector<torch::Tensor>& images) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> on_device;
  for (const auto& image : images) on_device.push_back(image.to(device_));
  DetectorStages stages;
  stages.batch = make_image_batch(on_device, options_.resize);
  stages.features = backbone_.forward(stages.batch.images);
  stages.proposals = rpn_.forward(stages.batch, stages.features);
  stages.detections = heads_.forward(stages.features, stages.proposals, stages.batch.sizes);
  for (size_t i = 0; i < images.size(); ++i) {
    Detections& d = stages.detections[i];
    const auto original = stages.batch.originals[i];
    d.boxes = boxes_to_original(d.boxes, stages.batch.sizes[i], original);
    if (d.masks.defined()) d.masks = paste_masks(d.masks, d.boxes, original.first, original.second);
  }
  return stages;
}

std::vector<Detections> Detector::detect(const std::vector<torch::Tensor>& images) { return run(images).detections; }

torch::Tensor pooled_pyramid_features(const DetectorStages& stages, size_t image) {
  const auto [height, width] = stages.batch.sizes[image];
  const int64_t batch_h = stages.batch.images.size(2), batch_w = stages.batch.images.size(3);
  std::vector<torch::Tensor> pooled;
  for (const auto& level : stages.features) {
    // The level covers the batch at stride batch / level size; the image's
    // area is the cells its pixels fall in.
    const int64_t stride_h = batch_h / level.size(2), stride_w = batch_w / level.size(3);
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
