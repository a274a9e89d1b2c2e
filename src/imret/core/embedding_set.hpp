#pragma once
// An embedding set on disk: a folder with
//   embeddings.npy  N x D float32 (C order), row i embeds item i
//   items.jsonl     one JSON object per row: {"index", "source", "label", "class"}, and
//                   for multi-label items "objects": [[class index, count], ...]
//   meta.json       where it came from: checkpoint, data, split, metric hints, bad images
// the format `imret embed` writes and `imret evaluate` / `imret search` read.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "imret/core/npy.hpp"
#include "imret/core/object_counts.hpp"

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

// Writes the three files atomically (each to a temp name, then renamed).
void save_embedding_set(const std::filesystem::path& folder, const float* embeddings, int64_t rows, int64_t cols,
                        const std::vector<EmbeddedItem>& items, const nlohmann::json& meta);

// Reads a folder written by save_embedding_set (or by Python: meta.json is
// optional). Errors name the file and the problem: a missing file, a
// malformed line (with its number), a row count that differs from the items.
EmbeddingSet load_embedding_set(const std::filesystem::path& folder);

}  // namespace imret
