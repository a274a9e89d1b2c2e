#include "imret/models/pretrained.hpp"

#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/core/tensor_file.hpp"
#include "imret/models/checkpoint.hpp"

namespace imret::models {

void apply_prefix_rules(TensorFile& file, const std::vector<std::string>& rules) {
  for (const auto& rule : rules) {
    const bool add = !rule.empty() && rule[0] == '+';
    const std::string prefix = add ? rule.substr(1) : rule;
    if (prefix.empty()) throw SettingError("weights_prefix", ": empty prefix rule");
    for (auto& [name, tensor] : file.tensors) {
      if (add)
        name = prefix + name;
      else if (name.rfind(prefix, 0) == 0)
        name = name.substr(prefix.size());
    }
  }
}

int64_t classifier_outputs(const TensorFile& file) {
  for (const auto& [name, tensor] : file.tensors)
    if (name == "fc.weight" && tensor.dim() == 2) return tensor.size(0);
  return 0;
}

void load_pretrained(Network& network, TensorFile weights, const std::string& source, const WeightOptions& options) {
  apply_prefix_rules(weights, options.prefix_rules);
  // Pooling's own parameter (GeM's p) is not in the PyTorch world's files: it keeps the spec's value.
  std::vector<std::string> ignored = options.ignored_prefixes;
  ignored.push_back("pool.");
  load_state(network, weights.tensors, source, ignored);
}

void load_pretrained(Network& network, const std::filesystem::path& file, const WeightOptions& options) {
  load_pretrained(network, load_tensor_file(file), file.string(), options);
}

}  // namespace imret::models
