#pragma once
// Where an embedding's network comes from: a checkpoint that imret train
// wrote (it carries its network and preprocessing), or an architecture with
// weights from the PyTorch world (torchvision's ImageNet ResNets).
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/models/checkpoint.hpp"

namespace imret::pipeline {

// The network `spec` with `weights` loaded strictly after `prefix_rules`
// (models::WeightOptions), and `preprocess` (data::Preprocess JSON) as the
// way its images are prepared. A spec with num_classes <= 0 takes the
// classifier size of the file (1 when it has none).
models::LoadedNetwork network_from_weights(models::NetworkSpec spec, const nlohmann::json& preprocess,
                                           const std::filesystem::path& weights,
                                           const std::vector<std::string>& prefix_rules);

// The network an embedding folder's vectors came from, as its meta.json
// records it (`checkpoint`, or `weights` with `network`, `preprocess` and
// `weights_prefix`), unless `checkpoint` names another. Error when neither
// says which network it was.
models::LoadedNetwork embedding_network(const nlohmann::json& meta, const std::string& checkpoint = {});

}  // namespace imret::pipeline
