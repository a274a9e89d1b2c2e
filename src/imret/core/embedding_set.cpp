#include "imret/core/embedding_set.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "imret/core/output_folder.hpp"

namespace imret {
namespace fs = std::filesystem;

std::vector<int64_t> EmbeddingSet::labels() const {
  std::vector<int64_t> labels;
  labels.reserve(items.size());
  for (const auto& item : items) labels.push_back(item.label);
  return labels;
}

bool EmbeddingSet::has_objects() const {
  return std::any_of(items.begin(), items.end(), [](const EmbeddedItem& item) { return item.objects.has_value(); });
}

std::vector<ObjectCounts> EmbeddingSet::all_objects() const {
  std::vector<ObjectCounts> all;
  all.reserve(items.size());
  for (const auto& item : items) {
    if (item.objects)
      all.push_back(*item.objects);
    else if (item.label >= 0)
      all.push_back({ObjectCount{static_cast<int32_t>(item.label), 1}});
    else
      all.emplace_back();
  }
  return all;
}

std::string items_jsonl(const std::vector<EmbeddedItem>& items) {
  std::ostringstream lines;
  for (const auto& item : items) {
    nlohmann::json line{{"index", item.index}};
    put_text(line, "source", item.source);
    line["label"] = item.label;
    put_text(line, "class", item.class_name);
    if (item.objects) {
      auto objects = nlohmann::json::array();
      for (const ObjectCount& o : *item.objects) objects.push_back({o.category, o.count});
      line["objects"] = std::move(objects);
    }
    lines << line.dump() << '\n';
  }
  return lines.str();
}

std::vector<EmbeddedItem> load_items_jsonl(const fs::path& path) {
  std::vector<EmbeddedItem> items;
  std::istringstream lines(read_file(path));
  std::string line;
  int64_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    try {
      const auto json = nlohmann::json::parse(line);
      if (!json.is_object()) throw Error(path.string() + ":" + std::to_string(number) + ": expected a JSON object");
      EmbeddedItem item;
      const std::string where = path.string() + ":" + std::to_string(number);
      item.index = get_integer(json, "index", where, static_cast<int64_t>(items.size()));
      item.source = get_text(json, "source", where);
      item.label = get_integer(json, "label", where, -1, -1, INT32_MAX);
      item.class_name = get_text(json, "class", where);
      if (json.contains("objects")) {
        ObjectCounts objects;
        for (const auto& pair : json.at("objects")) {
          if (!pair.is_array() || pair.size() != 2)
            throw Error(path.string() + ":" + std::to_string(number) +
                        ": \"objects\" must be a list of [class index, count] pairs");
          const nlohmann::json entry = {{"class", pair.at(0)}, {"count", pair.at(1)}};
          objects.push_back({static_cast<int32_t>(get_integer(entry, "class", where + ": objects", 0, 0, INT32_MAX)),
                             static_cast<int32_t>(get_integer(entry, "count", where + ": objects", 0, 0, INT32_MAX))});
        }
        check_object_counts(objects, path.string() + ":" + std::to_string(number));
        item.objects = std::move(objects);
      }
      items.push_back(std::move(item));
    } catch (const nlohmann::json::exception& e) {
      throw Error(path.string() + ":" + std::to_string(number) + ": malformed JSON line: " + e.what());
    }
  }
  return items;
}

void write_embedding_files(const fs::path& folder, const float* embeddings, int64_t rows, int64_t cols,
                           const std::vector<EmbeddedItem>& items, const nlohmann::json& meta) {
  if (static_cast<int64_t>(items.size()) != rows)
    throw Error(folder.string() + ": " + std::to_string(rows) + " embeddings but " + std::to_string(items.size()) +
                " items");
  save_npy(folder / "embeddings.npy", embeddings, rows, cols);
  write_file_atomic(folder / "items.jsonl", items_jsonl(items));
  nlohmann::json full_meta = meta;
  full_meta["count"] = rows;
  full_meta["dimension"] = cols;
  write_file_atomic(folder / "meta.json", dump_json(full_meta, 2) + "\n");
}

OutputRules embedding_folder_rules(const std::string& command, std::vector<fs::path> inputs) {
  OutputRules rules;
  rules.kind = "embeddings";
  rules.command = command;
  rules.replace = true;
  rules.inputs = std::move(inputs);
  // Written before markers: the three files, and maybe the maps of imret visualize.
  rules.legacy = [](const fs::path& folder) {
    std::error_code ec;
    return fs::exists(folder / "items.jsonl", ec) &&
           only_entries(folder, {"embeddings.npy", "items.jsonl", "meta.json", "visualize"}, {}, "embeddings.npy");
  };
  return rules;
}

void save_embedding_set(const fs::path& folder, const float* embeddings, int64_t rows, int64_t cols,
                        const std::vector<EmbeddedItem>& items, const nlohmann::json& meta) {
  OutputFolder out(folder, embedding_folder_rules("embed"));
  write_embedding_files(out.path(), embeddings, rows, cols, items, meta);
  out.publish({{"count", rows}, {"dimension", cols}});
}

int64_t first_nonfinite_row(const float* values, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = values + r * cols;
    if (!std::all_of(row, row + cols, [](float v) { return std::isfinite(v); })) return r;
  }
  return -1;
}

namespace {

// Drops the rows with NaN or infinite values, or fails naming the first one.
void handle_nonfinite(EmbeddingSet& set, const fs::path& folder, bool drop) {
  const int64_t first = first_nonfinite_row(set.embeddings.values.data(), set.embeddings.rows, set.embeddings.cols);
  if (first < 0) return;
  const int64_t cols = set.embeddings.cols;
  std::vector<float> kept_values;
  std::vector<EmbeddedItem> kept_items;
  for (int64_t r = 0; r < set.embeddings.rows; ++r) {
    const float* row = set.embeddings.values.data() + r * cols;
    if (std::all_of(row, row + cols, [](float v) { return std::isfinite(v); })) {
      kept_values.insert(kept_values.end(), row, row + cols);
      kept_items.push_back(set.items[static_cast<size_t>(r)]);
    }
  }
  const int64_t dropped = set.embeddings.rows - static_cast<int64_t>(kept_items.size());
  const std::string first_item = set.items[static_cast<size_t>(first)].source;
  if (!drop)
    throw Error((folder / "embeddings.npy").string() + ": row " + std::to_string(first) +
                (first_item.empty() ? std::string() : " (" + first_item + ")") + " has NaN or infinite values (" +
                std::to_string(dropped) + " such rows in all): embed again, or drop them (drop_nonfinite)");
  spdlog::warn("{}: dropped {} of {} rows with NaN or infinite values (the first: row {}{})", folder.string(), dropped,
               set.embeddings.rows, first, first_item.empty() ? std::string() : ", " + first_item);
  set.embeddings.values = std::move(kept_values);
  set.embeddings.rows = static_cast<int64_t>(kept_items.size());
  set.items = std::move(kept_items);
}

void check_meta_counts(const EmbeddingSet& set, const fs::path& meta_path) {
  const std::pair<const char*, int64_t> facts[] = {{"count", set.embeddings.rows}, {"dimension", set.embeddings.cols}};
  for (const auto& [key, actual] : facts) {
    if (!set.meta.contains(key)) continue;
    const nlohmann::json& value = set.meta.at(key);
    if (!value.is_number_integer() || value.get<int64_t>() != actual)
      throw Error(meta_path.string() + ": \"" + key + "\" is " + value.dump() + " but embeddings.npy has " +
                  std::to_string(actual) + (std::string(key) == "count" ? " rows" : " columns") +
                  " (the files do not belong together: embed again)");
  }
}

}  // namespace

EmbeddingSet load_embedding_set(const fs::path& folder, const EmbeddingLoadOptions& options) {
  if (!fs::is_directory(folder))
    throw Error(folder.string() + ": not a folder of embeddings (expected embeddings.npy and items.jsonl in it)");
  check_folder_marker(folder, {"embeddings"}, "an embedding folder");
  EmbeddingSet set;
  set.embeddings = load_npy(folder / "embeddings.npy");
  set.items = load_items_jsonl(folder / "items.jsonl");
  if (static_cast<int64_t>(set.items.size()) != set.embeddings.rows)
    throw Error(folder.string() + ": embeddings.npy has " + std::to_string(set.embeddings.rows) +
                " rows but items.jsonl has " + std::to_string(set.items.size()) + " items");
  const fs::path meta_path = folder / "meta.json";
  if (fs::exists(meta_path)) {
    try {
      set.meta = nlohmann::json::parse(read_file(meta_path));
    } catch (const nlohmann::json::exception& e) {
      throw Error(meta_path.string() + ": malformed JSON: " + e.what());
    }
    if (!set.meta.is_object()) throw Error(meta_path.string() + ": expected a JSON object");
    check_meta_counts(set, meta_path);
  }
  handle_nonfinite(set, folder, options.drop_nonfinite);
  return set;
}

}  // namespace imret
