#pragma once
// Any TorchScript module as imret's backbone (NetworkSpec arch
// "torchscript"): a network a user exported with torch.jit.trace or
// torch.jit.script (a torchvision, timm, DINO or CLIP image tower). imret calls
// its `model_method` on the preprocessed batch and takes `model_output` of
// the result (a tuple's index or a dict's key); a 4-D output is a feature map
// and is pooled (--pool), a 2-D one is the embedding. Its parameters and
// buffers are imret's under "model." (trainable, saved in checkpoints; the
// checkpoint names the .pt its architecture comes from). It has no
// classifier: train it with a metric-learning method.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "imret/models/network.hpp"
#include "imret/models/pooling.hpp"

namespace imret::models {

// Loads spec.model and probes its output size with a zero batch of
// spec.input_size. Errors name the file: missing, not TorchScript, no such
// method or output, an output that is neither a feature map nor a vector, a
// probe that fails (the message of the module's own error).
std::shared_ptr<Network> make_scripted_network(const NetworkSpec& spec, const PoolSpec& pool);

// The settings file of a TorchScript module: `net.json` beside `net.pt`, or
// the one given. {} when there is none. Its keys: "input_size" (the
// probing size, and the crop unless "crop" says otherwise), "resize", "crop",
// "mean", "std", "channels", "method", "output", "pool". Error naming the
// file for malformed JSON or a key of the wrong type or unknown.
nlohmann::json scripted_model_settings(const std::filesystem::path& model, const std::filesystem::path& given = {});

}  // namespace imret::models
