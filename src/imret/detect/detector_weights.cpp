#include "imret/detect/detector_weights.hpp"

#include <torch/torch.h>

#include <regex>
#include <sstream>

#include "imret/core/error.hpp"

namespace imret::detect {

const char* detector_arch_name(DetectorArch arch) {
  return arch == DetectorArch::MaskRCNN ? "maskrcnn_resnet50_fpn" : "fasterrcnn_resnet50_fpn";
}

namespace {

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::string current_spelling(std::string key) {
  if (starts_with(key, "module.")) key = key.substr(7);
  static const std::regex fpn_block(R"(^(backbone\.fpn\.(inner|layer)_blocks\.\d+)\.(weight|bias)$)");
  static const std::regex rpn_conv(R"(^rpn\.head\.conv\.(weight|bias)$)");
  static const std::regex mask_fcn(R"(^roi_heads\.mask_head\.mask_fcn(\d+)\.(weight|bias)$)");
  std::smatch m;
  if (std::regex_match(key, m, fpn_block)) return m[1].str() + ".0." + m[3].str();
  if (std::regex_match(key, m, rpn_conv)) return "rpn.head.conv.0.0." + m[1].str();
  if (std::regex_match(key, m, mask_fcn))
    return "roi_heads.mask_head." + std::to_string(std::stoi(m[1].str()) - 1) + ".0." + m[2].str();
  return key;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::string list_text(const std::vector<std::string>& names, size_t limit = 6) {
  std::string text;
  for (size_t i = 0; i < names.size() && i < limit; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > limit) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

}  // namespace

void normalize_detector_keys(TensorFile& file) {
  for (auto& [name, tensor] : file.tensors) name = current_spelling(name);
}

WeightTable::WeightTable(TensorFile file, std::string source) : source_(std::move(source)) {
  normalize_detector_keys(file);
  for (auto& [name, tensor] : file.tensors) {
    const auto dot = name.rfind('.');
    if (dot != std::string::npos && name.substr(dot + 1) == "num_batches_tracked") continue;
    if (!tensors_.emplace(name, tensor).second)
      throw Error(source_ + ": the key " + name + " appears twice (once in each spelling?)");
  }
}

torch::Tensor WeightTable::take(const std::string& name, const std::vector<int64_t>& shape) {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    missing_.push_back(name);
    return {};
  }
  taken_.insert(name);
  if (it->second.sizes().vec() != shape) {
    mismatched_.push_back(name + " is " + shape_text(it->second.sizes().vec()) + ", expected " + shape_text(shape));
    return {};
  }
  if (!it->second.is_floating_point()) {
    mismatched_.push_back(name + " is not a floating-point tensor");
    return {};
  }
  return it->second.to(torch::kFloat32).contiguous();
}

bool WeightTable::has_prefix(const std::string& prefix) const {
  const auto it = tensors_.lower_bound(prefix);
  return it != tensors_.end() && starts_with(it->first, prefix);
}

int64_t WeightTable::size_of(const std::string& name, int64_t dim, int64_t fallback) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end() || it->second.dim() <= dim) return fallback;
  return it->second.size(dim);
}

void WeightTable::finish() const {
  std::vector<std::string> unexpected;
  for (const auto& [name, tensor] : tensors_)
    if (!taken_.count(name)) unexpected.push_back(name);
  if (missing_.empty() && mismatched_.empty() && unexpected.empty()) return;
  std::ostringstream message;
  message << source_ << ": not a torchvision detector state_dict of this architecture:";
  if (!missing_.empty()) message << " missing " << list_text(missing_) << ";";
  if (!mismatched_.empty()) message << " wrong shape: " << list_text(mismatched_) << ";";
  if (!unexpected.empty()) message << " unexpected " << list_text(unexpected) << ";";
  std::string text = message.str();
  text.pop_back();
  throw Error(text);
}

}  // namespace imret::detect
