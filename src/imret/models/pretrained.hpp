#pragma once
// Weights from the PyTorch world (torchvision .pth in the zip or legacy
// format, safetensors) loaded into imret's networks, which use torchvision's
// parameter names.
#include <filesystem>
#include <string>
#include <vector>

#include "imret/core/safetensors.hpp"
#include "imret/models/network.hpp"

namespace imret::models {

struct WeightOptions {
  // Rewrites every key: "module." strips that prefix (DataParallel files),
  // "+backbone.body." adds one; several rules apply in order.
  std::vector<std::string> prefix_rules;
  // Model keys left as initialised and file keys ignored, e.g. "fc." when a
  // new classifier replaces torchvision's 1000-class one.
  std::vector<std::string> ignored_prefixes;
};

// Renames keys by the options' prefix rules. UsageError for an empty rule.
void apply_prefix_rules(TensorFile& file, const std::vector<std::string>& rules);

// The number of outputs of the classifier `fc` in the file, or 0 when it has none.
int64_t classifier_outputs(const TensorFile& file);

// Loads `file` (any format load_tensor_file reads) into the network strictly,
// after the prefix rules; GeM's p ("pool.") keeps the network's value. Errors name the file and the keys that do not fit.
void load_pretrained(Network& network, const std::filesystem::path& file, const WeightOptions& options);
void load_pretrained(Network& network, TensorFile weights, const std::string& source, const WeightOptions& options);

}  // namespace imret::models
