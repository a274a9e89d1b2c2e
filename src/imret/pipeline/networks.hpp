#pragma once
// Where an embedding's network comes from: a checkpoint that imret train
// wrote (it carries its network and preprocessing), an architecture with
// weights from the PyTorch world (torchvision's ImageNet ResNets), or a
// TorchScript module; and how it embeds: its pooling, scales and the
// whitening learned with the database.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/data/preprocess_defaults.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/models/whitening.hpp"

namespace imret::pipeline {

// The network `spec` with `weights` loaded strictly after `prefix_rules`
// (models::WeightOptions), and `preprocess` (data::Preprocess JSON) as the
// way its images are prepared. A spec with num_classes <= 0 takes the
// classifier size of the file (1 when it has none).
models::LoadedNetwork network_from_weights(models::NetworkSpec spec, const nlohmann::json& preprocess,
                                           const std::filesystem::path& weights,
                                           const std::vector<std::string>& prefix_rules);

// A TorchScript module as a network spec (arch "torchscript") with its
// preprocessing: the given choices (options) over its settings file's
// (models::scripted_model_settings), over the defaults for the data. The
// settings' "input_size" alone means resize and crop to it.
struct ScriptedModel {
  models::NetworkSpec spec;
  data::Preprocess preprocess;
};
ScriptedModel scripted_model(const std::string& model, const std::string& settings_file, const std::string& output,
                             const std::string& pool, const data::PreprocessChoice& choice, int64_t data_channels);

// Pooling and scales other than the loaded network's (a checkpoint trained
// with average pooling embedded with GeM): the network is rebuilt with the
// pooling and keeps every other weight. Nothing changes when they are the same.
void set_embedding_settings(models::LoadedNetwork& loaded, const std::string& pool, const std::vector<double>& scales);

// The whitening an embedding folder's meta.json records ("whitening": its
// file and fingerprint), or null. Error naming the file when it is missing
// or has changed since.
std::shared_ptr<const models::Whitening> recorded_whitening(const nlohmann::json& meta);

// The network an embedding folder's vectors came from, as its meta.json
// records it (`checkpoint`, `weights` with `network`, `preprocess` and
// `weights_prefix`, or a TorchScript `model`), unless `checkpoint` names
// another; with the recorded pooling, scales and whitening. Error when
// neither says which network it was.
models::LoadedNetwork embedding_network(const nlohmann::json& meta, const std::string& checkpoint = {});

// Queries compared with a database whitened as the database was: raw
// queries are whitened with the database's whitening (meta.json records it);
// queries whitened otherwise, or whitened queries against a raw database, are
// an Error naming `queries_name`.
void match_database_whitening(EmbeddingSet& queries, const nlohmann::json& database_meta,
                              const std::string& queries_name);

}  // namespace imret::pipeline
