#include "imret/search/index_store.hpp"

#include "imret/search/sharded_index.hpp"

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "imret/core/version.hpp"

namespace imret::search {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "imret-index-1";

template <typename T>
T get(const nlohmann::json& json, const char* key, const std::string& source) {
  if (!json.contains(key)) throw Error(source + ": no \"" + std::string(key) + "\" in the manifest");
  try {
    return json.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw Error(source + ": \"" + std::string(key) + "\" has the wrong type (" + json.at(key).dump() + ")");
  }
}

}  // namespace

nlohmann::json IndexManifest::to_json() const {
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [name, value] : parameters) params[name] = value;
  nlohmann::json json = {{"format", kFormat},         {"imret_version", imret_version.empty() ? kVersion : imret_version},
          {"backend", backend},        {"metric", to_string(metric)},
          {"dimension", dimension},    {"count", count},
          {"index_file", index_file},  {"items_file", items_file},
          {"parameters", params},      {"trained_on", trained_on},
          {"sources", sources},        {"embedding_meta", embedding_meta}};
  if (!shards.empty()) json["shards"] = shards;
  if (!augmentation.empty()) json["augmentation"] = augmentation;
  return json;
}

IndexManifest IndexManifest::from_json(const nlohmann::json& json, const std::string& source) {
  if (!json.is_object()) throw Error(source + ": the manifest is not a JSON object");
  const std::string format = get<std::string>(json, "format", source);
  if (format != kFormat) throw Error(source + ": unknown manifest format '" + format + "' (expected " + kFormat + ")");
  IndexManifest m;
  m.backend = get<std::string>(json, "backend", source);
  try {
    m.metric = parse_metric(get<std::string>(json, "metric", source));
  } catch (const UsageError& e) {
    throw Error(source + ": " + e.what());
  }
  for (const char* key : {"dimension", "count"})
    if (!json.contains(key)) throw Error(source + ": no \"" + std::string(key) + "\" in the manifest");
  m.dimension = get_integer(json, "dimension", source, 0, 0);
  m.count = get_integer(json, "count", source, 0, 0);
  m.index_file = get<std::string>(json, "index_file", source);
  m.items_file = get<std::string>(json, "items_file", source);
  for (const std::string& file : {m.index_file, m.items_file})
    if (file.empty() || fs::path(file).is_absolute() || file.find("..") != std::string::npos)
      throw Error(source + ": '" + file + "' is not a file name inside the index folder");
  const auto parameters = get<nlohmann::json>(json, "parameters", source);
  if (!parameters.is_object()) throw Error(source + ": \"parameters\" is not an object");
  for (const auto& [name, value] : parameters.items()) {
    if (!value.is_number()) throw Error(source + ": parameter '" + name + "' is not a number");
    m.parameters.emplace_back(name, value.get<double>());
  }
  m.trained_on = get_integer(json, "trained_on", source, 0, 0);
  m.sources = json.value("sources", std::vector<std::string>());
  m.embedding_meta = json.value("embedding_meta", nlohmann::json::object());
  m.imret_version = json.value("imret_version", std::string());
  if (json.contains("augmentation")) m.augmentation = get<std::string>(json, "augmentation", source);
  if (json.contains("shards")) {
    const auto& shards = json.at("shards");
    if (!shards.is_array() || shards.empty())
      throw Error(source + ": \"shards\" is not a list of shard sizes");
    int64_t total = 0;
    for (const auto& size : shards) {
      if (!size.is_number_integer() || size.get<int64_t>() < 0)
        throw Error(source + ": \"shards\" holds " + size.dump() + ", not a shard size");
      m.shards.push_back(size.get<int64_t>());
      total += m.shards.back();
    }
    if (total != m.count)
      throw Error(source + ": the shards hold " + std::to_string(total) + " vectors but \"count\" says " +
                  std::to_string(m.count));
  }
  return m;
}

std::string index_file_name(const std::string& spec) {
  return spec.rfind("faiss:", 0) == 0 ? "index.faiss" : "vectors.npy";
}

void write_index_files(const fs::path& folder, const Index& index, IndexManifest manifest,
                       const std::vector<EmbeddedItem>& items) {
  if (static_cast<int64_t>(items.size()) != index.size())
    throw Error(folder.string() + ": " + std::to_string(index.size()) + " indexed vectors but " +
                std::to_string(items.size()) + " items");
  manifest.backend = index.spec();
  manifest.metric = index.metric();
  manifest.dimension = index.dim();
  manifest.count = index.size();
  manifest.index_file = index_file_name(manifest.backend);
  manifest.parameters = index.parameters();
  manifest.imret_version = kVersion;
  const auto* sharded = dynamic_cast<const ShardedIndex*>(&index);
  manifest.shards = sharded != nullptr ? sharded->shard_sizes() : std::vector<int64_t>();
  try {
    index.save(folder / manifest.index_file);
  } catch (const fs::filesystem_error& e) {
    throw Error((folder / manifest.index_file).string() + ": cannot write the index (" + e.code().message() + ")");
  }
  write_file_atomic(folder / manifest.items_file, items_jsonl(items));
  write_file_atomic(folder / "manifest.json", dump_json(manifest.to_json(), 2) + "\n");
}

OutputRules index_folder_rules(const std::string& command, bool replace, const std::string& hint,
                               std::vector<fs::path> inputs) {
  OutputRules rules;
  rules.kind = "index";
  rules.command = command;
  rules.replace = replace;
  rules.replace_hint = hint;
  rules.inputs = std::move(inputs);
  // Written before markers: the manifest and its files, nothing else.
  rules.legacy = [](const fs::path& folder) {
    return only_entries(folder, {"manifest.json", "items.jsonl", "index.faiss", "vectors.npy"}, {}, "manifest.json");
  };
  return rules;
}

void save_index_folder(const fs::path& folder, const Index& index, IndexManifest manifest,
                       const std::vector<EmbeddedItem>& items) {
  OutputFolder out(folder, index_folder_rules("index", true, ""));
  write_index_files(out.path(), index, std::move(manifest), items);
  out.publish({{"count", index.size()}, {"dimension", index.dim()}});
}

StoredIndex load_index_folder(const fs::path& folder, c10::Device device) {
  if (!fs::is_directory(folder))
    throw Error(folder.string() + ": not an index folder (imret index build writes one)");
  check_folder_marker(folder, {"index"}, "an index folder");
  const fs::path manifest_path = folder / "manifest.json";
  if (!fs::exists(manifest_path)) throw Error(manifest_path.string() + ": no such file (not an index folder?)");
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_file(manifest_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(manifest_path.string() + ": malformed JSON: " + e.what());
  }
  StoredIndex stored;
  stored.manifest = IndexManifest::from_json(json, manifest_path.string());
  const IndexManifest& m = stored.manifest;
  const fs::path index_path = folder / m.index_file;
  if (m.shards.empty())
    stored.index = load_index(m.backend, m.metric, index_path, device);
  else
    stored.index = load_sharded_index(m.backend, m.metric, index_path, m.shards, device);
  const Index& index = *stored.index;
  auto mismatch = [&](const std::string& what, int64_t file_value, int64_t manifest_value) {
    return Error(index_path.string() + ": the index holds " + std::to_string(file_value) + " " + what +
                 " but manifest.json says " + std::to_string(manifest_value) + " (the files do not belong together)");
  };
  if (index.size() != m.count) throw mismatch("vectors", index.size(), m.count);
  if (index.size() > 0 && index.dim() != m.dimension) throw mismatch("dimensions", index.dim(), m.dimension);
  stored.items = load_items_jsonl(folder / m.items_file);
  if (static_cast<int64_t>(stored.items.size()) != m.count)
    throw Error((folder / m.items_file).string() + ": " + std::to_string(stored.items.size()) +
                " items but the index holds " + std::to_string(m.count) + " vectors");
  for (const auto& [name, value] : m.parameters) stored.index->set_parameter(name, value);
  return stored;
}

}  // namespace imret::search
