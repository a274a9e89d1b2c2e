#include "imret/core/embedding_set.hpp"

#include <algorithm>
#include <sstream>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

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
    nlohmann::json line{{"index", item.index}, {"source", item.source}, {"label", item.label}, {"class", item.class_name}};
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
      EmbeddedItem item;
      item.index = json.value("index", static_cast<int64_t>(items.size()));
      item.source = json.value("source", std::string());
      item.label = json.value("label", int64_t{-1});
      item.class_name = json.value("class", std::string());
      if (json.contains("objects")) {
        ObjectCounts objects;
        for (const auto& pair : json.at("objects")) {
          if (!pair.is_array() || pair.size() != 2)
            throw Error(path.string() + ":" + std::to_string(number) +
                        ": \"objects\" must be a list of [class index, count] pairs");
          objects.push_back({pair.at(0).get<int32_t>(), pair.at(1).get<int32_t>()});
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

void save_embedding_set(const fs::path& folder, const float* embeddings, int64_t rows, int64_t cols,
                        const std::vector<EmbeddedItem>& items, const nlohmann::json& meta) {
  if (static_cast<int64_t>(items.size()) != rows)
    throw Error(folder.string() + ": " + std::to_string(rows) + " embeddings but " + std::to_string(items.size()) +
                " items");
  save_npy(folder / "embeddings.npy", embeddings, rows, cols);
  write_file_atomic(folder / "items.jsonl", items_jsonl(items));
  nlohmann::json full_meta = meta;
  full_meta["count"] = rows;
  full_meta["dimension"] = cols;
  write_file_atomic(folder / "meta.json", full_meta.dump(2) + "\n");
}

EmbeddingSet load_embedding_set(const fs::path& folder) {
  if (!fs::is_directory(folder))
    throw Error(folder.string() + ": not a folder of embeddings (expected embeddings.npy and items.jsonl in it)");
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
  }
  return set;
}

}  // namespace imret
