#pragma once
// Embedding a dataset split into an embedding folder (core/embedding_set.hpp):
// `imret embed`, and the database and query embeddings of a training run.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "imret/data/dataset.hpp"
#include "imret/data/idx.hpp"
#include "imret/data/preprocess_defaults.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/models/embed.hpp"

namespace imret::pipeline {

// Embeds `dataset` with a loaded network and writes the embedding set into
// `folder` (the output-folder contract: an earlier embedding folder there is
// replaced whole, anything else is refused, as is a folder holding one of
// `inputs`); returns the number of items embedded. `meta` (where the data and
// the network came from: "data", "split", and "checkpoint" or "weights") goes
// into meta.json, with the network, its preprocessing, the classes and the bad
// images. Error when no image could be embedded or the network gives NaN/inf
// embeddings; UsageError when the network takes another number of channels.
// With `whiten`, the embeddings are whitened with a whitening learned from
// them, saved as whitening.safetensors in the folder and recorded in meta.json.
int64_t embed_dataset_to_folder(const models::LoadedNetwork& loaded, std::shared_ptr<const data::Dataset> dataset,
                                const nlohmann::json& meta, const models::EmbedOptions& options,
                                const std::filesystem::path& folder,
                                const std::vector<std::filesystem::path>& inputs = {},
                                const std::optional<models::WhitenSpec>& whiten = std::nullopt);

struct EmbedRequest {
  std::string data = data::kDefaultFashionMnist;  // IDX, image or COCO folder
  std::string split = "test";
  // The network: a checkpoint from training (it brings its preprocessing),
  // an architecture with weights (torchvision's names) and a preprocessing,
  // or a TorchScript module (models/scripted_network.hpp) with its settings
  // file (`model_settings`, else net.json beside net.pt).
  std::string checkpoint;
  std::string arch;
  std::string weights;
  std::vector<std::string> weights_prefix;  // models::WeightOptions::prefix_rules
  std::string model;
  std::string model_settings;
  std::string model_output;                 // over the settings file's "output"
  data::PreprocessChoice preprocess;        // with weights or a model; defaults for the data's channels
  // How the network embeds (empty: as it is): pooling (models/pooling.hpp)
  // and multi-scale factors.
  std::string pool;
  std::vector<double> scales;
  // Whitening (models/whitening.hpp) learned from this split's embeddings and
  // saved with them ("pca", "learned:dim=64"), or the whitening of the
  // embedding folder `whiten_from` (a database) applied to this split.
  std::string whiten;
  std::string whiten_from;
  models::EmbedOptions options;
  // Shard `shard` of `shards` (0-based): the contiguous items
  // [size * shard / shards, size * (shard + 1) / shards) of the split, so
  // that N processes or hosts (a Slurm array job) each embed their part and
  // merge_embedding_shards joins them. meta.json records the shard.
  int64_t shard = 0;
  int64_t shards = 1;
};

struct EmbedOutcome {
  int64_t embedded = 0;   // items written
  int64_t images = 0;     // items of the split (the rest were bad images)
  int64_t dimension = 0;
};

// Opens the split, loads the network and embeds the split into `folder`.
// UsageError naming the field for a request that gives not exactly one of
// checkpoint, weights and model, weights without arch, a preprocessing with a
// checkpoint, or both whiten and whiten_from.
EmbedOutcome embed_to_folder(const EmbedRequest& request, const std::filesystem::path& folder);

// Parses "i/N" (0 <= i < N) into {i, N}; SettingError naming `setting` otherwise.
std::pair<int64_t, int64_t> parse_shard(const std::string& text, const std::string& setting = "shard");

struct MergeOutcome {
  int64_t items = 0;
  int64_t dimension = 0;
  int64_t shards = 0;
};

// Joins the folders of `imret embed --shard i/N` (any order) into one
// embedding folder at `folder`, equal to an unsharded embed of the split:
// the rows in the split's order, meta.json without the shard and with every
// shard's bad images. imret::Error naming the folder and the problem when the
// folders are not shards, come from different networks, weights,
// preprocessing, data or splits, or do not cover the split exactly once (a
// shard missing or given twice, shards of different N).
MergeOutcome merge_embedding_shards(const std::vector<std::filesystem::path>& shards,
                                    const std::filesystem::path& folder);

}  // namespace imret::pipeline
