#pragma once
// Checkpoints: the network's parameters and buffers in safetensors (keys named
// as torchvision names them) with a JSON description stored twice: in the
// file's metadata (key "imret", the source of truth) and in a sidecar
// `<name>.json` next to it for people and scripts.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/models/network.hpp"

namespace imret::models {

struct CheckpointInfo {
  NetworkSpec spec;
  std::vector<std::string> classes;
  nlohmann::json preprocess = nlohmann::json::object();  // data::Preprocess::to_json()
  nlohmann::json config = nlohmann::json::object();      // the training configuration
  int64_t epoch = 0;                                     // epochs completed
  nlohmann::json metrics = nlohmann::json::object();     // validation metrics of that epoch
  // The resume unit this checkpoint belongs to (learn/checkpoint_unit.hpp):
  // the same id is in the optimizer state saved with it. Empty: none (a best
  // checkpoint of another epoch, or an older imret).
  std::string resume_unit;

  nlohmann::json to_json() const;
  static CheckpointInfo from_json(const nlohmann::json& json);
};

struct LoadedNetwork {
  std::shared_ptr<Network> network;
  CheckpointInfo info;
};

// Path of the JSON sidecar of a checkpoint: foo.safetensors -> foo.json.
std::filesystem::path sidecar_path(const std::filesystem::path& checkpoint);

// Writes `path` (safetensors) and its sidecar, each atomically.
void save_checkpoint(const std::filesystem::path& path, Network& network, const CheckpointInfo& info);

// Builds the network the checkpoint describes and loads its weights
// strictly. Errors name the file and the problem (missing description,
// missing/unexpected keys, shape mismatches).
LoadedNetwork load_checkpoint(const std::filesystem::path& path);

// Copies named tensors into the module's parameters and buffers. Strict:
// every key must match a parameter/buffer of the same shape and vice versa;
// otherwise one Error listing the missing, unexpected and mis-shaped keys.
// Keys starting with one of `ignored_prefixes` are left out on both sides
// (the module keeps its own values for them).
void load_state(torch::nn::Module& module, const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                const std::string& source, const std::vector<std::string>& ignored_prefixes = {});

// All parameters and buffers with their dotted names, as a state_dict.
std::vector<std::pair<std::string, torch::Tensor>> state_dict(const torch::nn::Module& module);

}  // namespace imret::models
