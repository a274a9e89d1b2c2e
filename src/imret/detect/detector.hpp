#pragma once
// torchvision's fasterrcnn_resnet50_fpn and maskrcnn_resnet50_fpn (v1) at
// inference, from their state_dicts (.pth zip or legacy, or safetensors; keys
// in the spelling of any torchvision release), on the CPU or a GPU.
#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "imret/core/precision.hpp"
#include "imret/core/safetensors.hpp"
#include "imret/detect/detections.hpp"
#include "imret/detect/detector_weights.hpp"
#include "imret/detect/image_batch.hpp"
#include "imret/detect/roi_heads.hpp"
#include "imret/detect/rpn.hpp"

namespace imret::detect {

struct DetectorOptions {
  ResizeOptions resize;
  RpnOptions rpn;
  BoxHeadOptions box;
  // The frozen batch norm's epsilon: torchvision's COCO v1 weights use 0;
  // torchvision's models built without weights use 1e-5.
  double bn_eps = 0.0;
  // Masks pasted as uint8 0/1 (probability above 0.5) instead of float
  // probabilities: a quarter of the memory, all that results files and
  // pictures need.
  bool binary_masks = false;
  // The backbone's and the feature pyramid's arithmetic (core/precision.hpp);
  // the pyramid comes out float32, and the region proposals, the box and mask
  // heads, NMS and RoIAlign stay float32 in every mode. Callers check the
  // device first (check_precision_on).
  Precision precision = Precision::Fp32;
};

// Every stage's output, for parity tests and feature extraction.
struct DetectorStages {
  ImageBatch batch;
  std::vector<torch::Tensor> features;   // the five pyramid levels, N x 256 x h x w
  std::vector<torch::Tensor> proposals;  // per image, in the resized image's pixels
  std::vector<Detections> detections;    // per image, in the original image's pixels (masks pasted)
};

// An image descriptor from the pyramid: each of the five levels averaged over
// image `image`'s own area (padding left out), concatenated: 5 x 256 values.
torch::Tensor pooled_pyramid_features(const DetectorStages& stages, size_t image);

class Detector {
 public:
  Detector(TensorFile weights, const std::string& source, const DetectorOptions& options);
  Detector(const Detector&) = delete;
  Detector& operator=(const Detector&) = delete;
  // Reads a weight file; errors name it.
  static std::unique_ptr<Detector> load(const std::filesystem::path& file, const DetectorOptions& options);

  DetectorArch arch() const { return arch_; }
  int64_t num_classes() const { return heads_.num_classes(); }
  const DetectorOptions& options() const { return options_; }

  // Images are 3 x H x W float RGB in [0, 1] (any size; moved to the
  // detector's device); one result per image.
  std::vector<Detections> detect(const std::vector<torch::Tensor>& images);
  DetectorStages run(const std::vector<torch::Tensor>& images);

  void to(const torch::Device& device);
  torch::Device device() const { return device_; }

 private:
  // Builds the stages from the file's tensors and checks that they were all used.
  Detector(WeightTable table, const DetectorOptions& options);
  void visit(const TensorVisitor& visitor);

  DetectorArch arch_;
  DetectorOptions options_;
  ResNetFpn backbone_;
  RegionProposalNetwork rpn_;
  RoiHeads heads_;
  torch::Device device_ = torch::kCPU;
};

}  // namespace imret::detect
