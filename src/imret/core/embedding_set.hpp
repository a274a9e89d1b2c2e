#pragma once
// An embedding set on disk: a folder with
//   embeddings.npy  N x D float32 (C order), row i embeds item i
//   items.jsonl     one JSON object per row: {"index", "source", "label", "class"}, and
//                   for multi-label items "objects": [[class index, count], ...]
//   meta.json       where it came from: checkpoint, data, split, metric hints, bad images
//   .imret-folder.json  the output-folder marker (kind "embeddings"; output_folder.hpp)
// the format `imret embed` writes and `imret evaluate` / `imret search` read.
// File names that are not valid UTF-8 are stored readable ("source") and
// exact ("source_hex"; json_text.hpp).
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "imret/core/npy.hpp"
#include "imret/core/object_counts.hpp"
#include "imret/core/output_folder.hpp"

namespace imret {

struct EmbeddedItem {
  int64_t index = 0;  // index in the source dataset
  std::string source;
  int64_t label = -1;
  std::string class_name;
  std::optional<ObjectCounts> objects;  // multi-label (COCO) items only
};

struct EmbeddingSet {
  FloatMatrix embeddings;
  std::vector<EmbeddedItem> items;
  nlohmann::json meta = nlohmann::json::object();

  std::vector<int64_t> labels() const;
  // True when the items carry objects (multi-label, COCO).
  bool has_objects() const;
  // Each item's objects; an item without them: one object of its label
  // (none for label -1).
  std::vector<ObjectCounts> all_objects() const;
};

// items.jsonl: one line per item ({"index", "source", "label", "class"}), and back.
// Reading throws imret::Error naming the file and the line of a malformed one.
std::string items_jsonl(const std::vector<EmbeddedItem>& items);
std::vector<EmbeddedItem> load_items_jsonl(const std::filesystem::path& path);

// Writes the three files into `folder` (an OutputFolder's staging folder:
// output_folder.hpp). meta.json gains "count" and "dimension".
void write_embedding_files(const std::filesystem::path& folder, const float* embeddings, int64_t rows, int64_t cols,
                           const std::vector<EmbeddedItem>& items, const nlohmann::json& meta);

// write_embedding_files under the output-folder contract: built beside
// `folder`, then swapped in whole, replacing an earlier embedding folder.
void save_embedding_set(const std::filesystem::path& folder, const float* embeddings, int64_t rows, int64_t cols,
                        const std::vector<EmbeddedItem>& items, const nlohmann::json& meta);

// The output rules of an embedding folder: replaces an earlier one (its
// marker, or the files of an embedding folder written before markers).
OutputRules embedding_folder_rules(const std::string& command, std::vector<std::filesystem::path> inputs = {});

// The first row of a rows x cols matrix with a NaN or infinite value, or -1.
int64_t first_nonfinite_row(const float* values, int64_t rows, int64_t cols);

struct EmbeddingLoadOptions {
  // Drop rows with NaN or infinite values (and their items), with a warning,
  // instead of failing.
  bool drop_nonfinite = false;
};

// Reads a folder written by save_embedding_set (or by Python: meta.json and
// the marker are optional). Errors name the file and the problem: a missing
// file, a malformed line (with its number), a row count that differs from the
// items, a meta.json count or dimension that differs from the arrays, an
// incomplete folder or one of another kind (its marker), a row with NaN or
// infinite values (unless options.drop_nonfinite).
EmbeddingSet load_embedding_set(const std::filesystem::path& folder, const EmbeddingLoadOptions& options = {});

}  // namespace imret
