#include "imret/models/checkpoint.hpp"

#include <torch/torch.h>

#include <map>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "imret/core/safetensors.hpp"
#include "imret/core/version.hpp"

namespace imret::models {

nlohmann::json CheckpointInfo::to_json() const {
  return {{"format", "imret-checkpoint-1"}, {"imret_version", kVersion}, {"network", spec.to_json()},
          {"classes", classes},             {"preprocess", preprocess},  {"config", config},
          {"epoch", epoch},                 {"metrics", metrics},         {"resume_unit", resume_unit}};
}

CheckpointInfo CheckpointInfo::from_json(const nlohmann::json& json) {
  CheckpointInfo info;
  info.spec = NetworkSpec::from_json(json.at("network"));
  info.classes = json.at("classes").get<std::vector<std::string>>();
  info.preprocess = json.value("preprocess", nlohmann::json::object());
  info.config = json.value("config", nlohmann::json::object());
  info.epoch = json.value("epoch", int64_t{0});
  info.metrics = json.value("metrics", nlohmann::json::object());
  info.resume_unit = json.value("resume_unit", std::string());
  return info;
}

std::filesystem::path sidecar_path(const std::filesystem::path& checkpoint) {
  std::filesystem::path sidecar = checkpoint;
  return sidecar.replace_extension(".json");
}

std::vector<std::pair<std::string, torch::Tensor>> state_dict(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& item : module.named_parameters(true)) tensors.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers(true)) tensors.emplace_back(item.key(), item.value());
  return tensors;
}

void save_checkpoint(const std::filesystem::path& path, Network& network, const CheckpointInfo& info) {
  const std::string description = dump_json(info.to_json());
  save_safetensors(path, state_dict(network), {{"imret", description}});
  write_file_atomic(sidecar_path(path), dump_json(info.to_json(), 2) + "\n");
}

namespace {
std::string join_keys(const std::vector<std::string>& keys) {
  std::string text;
  const size_t shown = std::min<size_t>(keys.size(), 5);
  for (size_t i = 0; i < shown; ++i) text += (i ? ", " : "") + keys[i];
  if (keys.size() > shown) text += ", ... (" + std::to_string(keys.size()) + " in all)";
  return text;
}
}  // namespace

void load_state(torch::nn::Module& module, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                const std::string& source, const std::vector<std::string>& ignored_prefixes) {
  auto ignored = [&](const std::string& name) {
    for (const auto& prefix : ignored_prefixes)
      if (name.rfind(prefix, 0) == 0) return true;
    return false;
  };
  std::map<std::string, torch::Tensor> targets;
  for (auto& [name, tensor] : state_dict(module))
    if (!ignored(name)) targets.emplace(name, tensor);
  std::vector<std::string> unexpected, mis_shaped, missing;
  std::map<std::string, const torch::Tensor*> matched;
  for (const auto& [name, tensor] : tensors) {
    if (ignored(name)) continue;
    auto it = targets.find(name);
    if (it == targets.end()) {
      unexpected.push_back(name);
    } else if (it->second.sizes() != tensor.sizes()) {
      std::ostringstream text;
      text << name << " (file " << tensor.sizes() << ", model " << it->second.sizes() << ")";
      mis_shaped.push_back(text.str());
    } else {
      matched[name] = &tensor;
    }
  }
  for (const auto& [name, tensor] : targets)
    if (!matched.count(name) && std::find_if(mis_shaped.begin(), mis_shaped.end(), [&](const std::string& s) {
                                  return s.rfind(name + " ", 0) == 0;
                                }) == mis_shaped.end())
      missing.push_back(name);
  if (!unexpected.empty() || !mis_shaped.empty() || !missing.empty()) {
    std::string message = source + ": weights do not fit the model:";
    if (!missing.empty()) message += " missing keys: " + join_keys(missing) + ";";
    if (!unexpected.empty()) message += " unexpected keys: " + join_keys(unexpected) + ";";
    if (!mis_shaped.empty()) message += " wrong shapes: " + join_keys(mis_shaped) + ";";
    message.pop_back();
    throw Error(message);
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, tensor] : matched) {
    torch::Tensor& target = targets[name];
    target.copy_(tensor->to(target.dtype()));
  }
}

LoadedNetwork load_checkpoint(const std::filesystem::path& path) {
  TensorFile file = load_safetensors(path);
  nlohmann::json description;
  auto it = file.metadata.find("imret");
  try {
    if (it != file.metadata.end()) {
      description = nlohmann::json::parse(it->second);
    } else if (std::filesystem::exists(sidecar_path(path))) {
      description = nlohmann::json::parse(read_file(sidecar_path(path)));
    } else {
      throw Error(path.string() + ": no imret description in the file and no sidecar " + sidecar_path(path).string() +
                  " (is this an imret checkpoint?)");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": malformed checkpoint description: " + e.what());
  }
  LoadedNetwork loaded;
  try {
    loaded.info = CheckpointInfo::from_json(description);
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": malformed checkpoint description: " + e.what());
  }
  loaded.network = make_network(loaded.info.spec);
  load_state(*loaded.network, file.tensors, path.string());
  return loaded;
}

}  // namespace imret::models
