#pragma once
// torchvision detector state_dicts: the two key spellings, the architecture a
// file holds, and strict, shape-checked access to its tensors.
#include <torch/types.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "imret/core/safetensors.hpp"

namespace imret::detect {

enum class DetectorArch { FasterRCNN, MaskRCNN };

// "fasterrcnn_resnet50_fpn" or "maskrcnn_resnet50_fpn".
const char* detector_arch_name(DetectorArch arch);

// Renames keys written before torchvision 0.13 to the current spelling:
//   backbone.fpn.{inner,layer}_blocks.I.{weight,bias} -> ...blocks.I.0.{weight,bias}
//   rpn.head.conv.{weight,bias}                        -> rpn.head.conv.0.0.{weight,bias}
//   roi_heads.mask_head.mask_fcnK.{weight,bias}        -> roi_heads.mask_head.(K-1).0.{weight,bias}
// and strips a "module." prefix (files saved from DataParallel). Current keys are kept.
void normalize_detector_keys(TensorFile& file);

// The tensors of one file, taken by name and expected shape. Problems are
// collected and reported together by finish(): one imret::Error naming the
// file with the missing, mis-shaped and unexpected keys (batch-norm
// num_batches_tracked counters are ignored, as torchvision's frozen batch
// norm ignores them).
class WeightTable {
 public:
  WeightTable(TensorFile file, std::string source);

  // The tensor `name` as float32; an undefined tensor (and a recorded
  // problem) when it is missing or its shape is not `shape`.
  torch::Tensor take(const std::string& name, const std::vector<int64_t>& shape);
  // The size of dimension `dim` of tensor `name`, or `fallback` when missing.
  int64_t size_of(const std::string& name, int64_t dim, int64_t fallback) const;
  // Whether a key starts with `prefix`.
  bool has_prefix(const std::string& prefix) const;
  void finish() const;
  const std::string& source() const { return source_; }

 private:
  std::map<std::string, torch::Tensor> tensors_;
  std::set<std::string> taken_;
  std::vector<std::string> missing_;
  std::vector<std::string> mismatched_;
  std::string source_;
};

}  // namespace imret::detect
