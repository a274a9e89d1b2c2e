#include "imret/models/scripted_network.hpp"

#include <torch/script.h>
#include <torch/torch.h>

#include <fstream>
#include <set>
#include <sstream>

#include "imret/core/error.hpp"

namespace imret::models {
namespace fs = std::filesystem;

namespace {

std::string first_line(const c10::Error& e) {
  const std::string text = e.what_without_backtrace();
  return text.substr(0, text.find('\n'));
}

std::vector<std::string> split_name(const std::string& dotted) {
  std::vector<std::string> parts;
  std::stringstream stream(dotted);
  for (std::string part; std::getline(stream, part, '.');) parts.push_back(part);
  return parts;
}

class ScriptedNetwork : public Network {
 public:
  ScriptedNetwork(const NetworkSpec& spec, const PoolSpec& pool)
      : path_(spec.model), method_(spec.model_method), output_(spec.model_output) {
    if (path_.empty()) throw UsageError("model: a TorchScript network needs its .pt file (--model)");
    if (!fs::is_regular_file(path_))
      throw Error(path_ + ": " + (fs::exists(path_) ? "not a file" : "no such file") + " (the TorchScript model)");
    try {
      module_ = torch::jit::load(path_, torch::kCPU);
    } catch (const c10::Error& e) {
      throw Error(path_ + ": not a TorchScript module that torch.jit.load reads (" + first_line(e) +
                  "); export it with torch.jit.trace or torch.jit.script and torch.jit.save");
    }
    if (!module_.find_method(method_))
      throw UsageError(path_ + ": the module has no method '" + method_ +
                       "' (TorchScript keeps forward and the methods marked @torch.jit.export)");
    pool_ = register_module("pool", Pooling(pool));
    mirror_tensors();
    probe(spec);
    train(true);
  }

  torch::Tensor classify(const torch::Tensor& /*embeddings*/) override {
    throw UsageError("a TorchScript backbone has no classifier here: train it with a metric-learning method "
                     "(e.g. --method triplet), not classification");
  }
  int64_t feature_dim() const override { return feature_dim_; }
  std::vector<std::string> last_stage_prefixes() const override { return {"pool."}; }

  void train(bool on = true) override {
    Module::train(on);
    module_.train(on && !frozen_);
  }
  void keep_backbone_evaluating(bool on) override {
    frozen_ = on;
    module_.train(is_training() && !frozen_);
  }
  using Module::to;
  void to(torch::Device device, bool non_blocking = false) override {
    Module::to(device, non_blocking);
    module_.to(device, non_blocking);
  }

 protected:
  torch::Tensor embed_features(const torch::Tensor& images) override {
    torch::Tensor out;
    try {
      out = pick(module_.get_method(method_)({images}));
    } catch (const c10::Error& e) {
      throw Error(path_ + ": " + method_ + " failed on a " + shape(images) + " batch (" + first_line(e) + ")");
    }
    if (out.dim() == 4) return pool_->forward(out);
    if (out.dim() == 2) {
      if (pool_->spec().kind != "gap")
        throw UsageError(path_ + ": the output is already a vector (" + shape(out) + "), there is no feature map to "
                         "pool with " + pool_->spec().to_string());
      return out;
    }
    throw UsageError(path_ + ": the output is " + shape(out) +
                     (out.dim() == 3 ? ", a sequence of tokens: export the module to return the class token or a "
                                       "pooled vector (N x D), or a feature map (N x C x H x W)"
                                     : ": imret takes a vector per image (N x D) or a feature map (N x C x H x W)"));
  }

 private:
  static std::string shape(const torch::Tensor& t) {
    std::string text;
    for (int64_t s : t.sizes()) text += (text.empty() ? "" : " x ") + std::to_string(s);
    return text;
  }

  // The module's parameters and buffers registered as this network's, under
  // "model.": the same tensors, so optimisers, to(), checkpoints and
  // channels-last reach the module's own.
  void mirror_tensors() {
    auto root = register_module("model", std::make_shared<torch::nn::Module>());
    const auto holder = [&](const std::vector<std::string>& parts) {
      torch::nn::Module* m = root.get();
      for (size_t i = 0; i + 1 < parts.size(); ++i) {
        auto children = m->named_children();
        if (auto* found = children.find(parts[i])) m = found->get();
        else m = m->register_module(parts[i], std::make_shared<torch::nn::Module>()).get();
      }
      return m;
    };
    // A tensor shared by two submodules (tied weights) is registered once: twice would step it twice.
    std::set<const void*> seen;
    for (const auto& p : module_.named_parameters(true)) {
      if (!seen.insert(p.value.unsafeGetTensorImpl()).second) continue;
      const auto parts = split_name(p.name);
      holder(parts)->register_parameter(parts.back(), p.value, p.value.requires_grad());
    }
    for (const auto& b : module_.named_buffers(true)) {
      if (!seen.insert(b.value.unsafeGetTensorImpl()).second) continue;
      const auto parts = split_name(b.name);
      holder(parts)->register_buffer(parts.back(), b.value);
    }
  }

  torch::Tensor pick(const c10::IValue& result) const {
    c10::IValue value = result;
    if (!output_.empty()) {
      if (result.isTuple() || result.isList()) {
        const std::vector<c10::IValue> items =
            result.isTuple() ? result.toTupleRef().elements().vec() : result.toListRef().vec();
        size_t used = 0;
        long long index = -1;
        try {
          index = std::stoll(output_, &used);
        } catch (const std::exception&) {
        }
        if (used != output_.size() || index < 0 || index >= static_cast<long long>(items.size()))
          throw UsageError(path_ + ": output '" + output_ + "': the module returns " + std::to_string(items.size()) +
                           " values; name one by its index, 0 to " + std::to_string(items.size() - 1));
        value = items[static_cast<size_t>(index)];
      } else if (result.isGenericDict()) {
        bool found = false;
        std::string keys;
        for (const auto& entry : result.toGenericDict()) {
          if (!entry.key().isString()) continue;
          const std::string key = entry.key().toStringRef();
          keys += (keys.empty() ? "" : ", ") + key;
          if (key == output_) {
            value = entry.value();
            found = true;
          }
        }
        if (!found)
          throw UsageError(path_ + ": output '" + output_ + "': the module's result has no such key (it has: " + keys + ")");
      } else {
        throw UsageError(path_ + ": output '" + output_ + "': the module returns one tensor, leave the output out");
      }
    }
    if (!value.isTensor())
      throw UsageError(path_ + ": the module returns " + value.tagKind() +
                       (output_.empty() ? ", not a tensor: name the output to use (--model-output: an index or key)"
                                        : ", not a tensor, at output '" + output_ + "'"));
    return value.toTensor();
  }

  void probe(const NetworkSpec& spec) {
    if (spec.input_size < 1 || spec.input_size > 4096)
      throw UsageError("input_size " + std::to_string(spec.input_size) + ": must be from 1 to 4096");
    torch::NoGradGuard no_grad;
    module_.eval();
    const torch::Tensor out = embed_features(torch::zeros({2, spec.in_channels, spec.input_size, spec.input_size}));
    feature_dim_ = out.size(1);
  }

  std::string path_, method_, output_;
  torch::jit::Module module_;
  Pooling pool_{nullptr};
  int64_t feature_dim_ = 0;
  bool frozen_ = false;
};

void check_type(const nlohmann::json& json, const char* key, bool ok, const fs::path& file, const char* wanted) {
  if (json.contains(key) && !ok)
    throw Error(file.string() + ": \"" + key + "\" should be " + wanted + ", got " + json.at(key).dump());
}

}  // namespace

std::shared_ptr<Network> make_scripted_network(const NetworkSpec& spec, const PoolSpec& pool) {
  return std::make_shared<ScriptedNetwork>(spec, pool);
}

nlohmann::json scripted_model_settings(const fs::path& model, const fs::path& given) {
  fs::path file = given;
  if (file.empty()) {
    file = fs::path(model).replace_extension(".json");
    if (!fs::exists(file)) return nlohmann::json::object();
  } else if (!fs::is_regular_file(file)) {
    throw Error(file.string() + ": no such settings file (the TorchScript model's JSON)");
  }
  std::ifstream in(file);
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw Error(file.string() + ": malformed JSON (" + std::string(e.what()) + ")");
  }
  if (!json.is_object()) throw Error(file.string() + ": should be a JSON object of settings");
  static const std::vector<std::string> known = {"input_size", "resize", "crop", "mean",   "std",
                                                 "channels",   "method", "output", "pool"};
  for (const auto& [key, value] : json.items())
    if (std::find(known.begin(), known.end(), key) == known.end())
      throw Error(file.string() + ": unknown setting \"" + key +
                  "\" (known: input_size, resize, crop, mean, std, channels, method, output, pool)");
  const auto whole = [&](const char* key) {
    return !json.contains(key) || (json[key].is_number_integer() && json[key].get<int64_t>() >= 0);
  };
  const auto numbers = [&](const char* key) {
    if (!json.contains(key)) return true;
    if (!json[key].is_array() || json[key].empty()) return false;
    for (const auto& v : json[key])
      if (!v.is_number()) return false;
    return true;
  };
  check_type(json, "input_size", whole("input_size"), file, "a whole number");
  check_type(json, "resize", whole("resize"), file, "a whole number");
  check_type(json, "crop", whole("crop"), file, "a whole number");
  check_type(json, "channels", whole("channels"), file, "1 or 3");
  check_type(json, "mean", numbers("mean"), file, "a list of numbers");
  check_type(json, "std", numbers("std"), file, "a list of numbers");
  check_type(json, "method", !json.contains("method") || json["method"].is_string(), file, "a string");
  check_type(json, "pool", !json.contains("pool") || json["pool"].is_string(), file, "a string");
  check_type(json, "output",
             !json.contains("output") || json["output"].is_string() || json["output"].is_number_unsigned(), file,
             "an index or a key");
  if (json.contains("output") && json["output"].is_number()) json["output"] = std::to_string(json["output"].get<int64_t>());
  return json;
}

}  // namespace imret::models
