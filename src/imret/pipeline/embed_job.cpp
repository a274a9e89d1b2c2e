#include "imret/pipeline/embed_job.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "imret/core/atomic_file.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/precision.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/models/pooling.hpp"
#include "imret/pipeline/networks.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

namespace {

std::vector<EmbeddedItem> embedded_items(const data::Dataset& dataset, const std::vector<int64_t>& indices) {
  std::vector<EmbeddedItem> items;
  items.reserve(indices.size());
  for (int64_t index : indices) {
    const int64_t label = dataset.label(index);
    EmbeddedItem item{index, dataset.source(index), label,
                      label >= 0 ? dataset.classes().at(static_cast<size_t>(label)) : std::string(), std::nullopt};
    if (dataset.has_objects()) item.objects = dataset.objects(index);
    items.push_back(std::move(item));
  }
  return items;
}

nlohmann::json bad_image_list(const data::BadImageLog& bad_images) {
  nlohmann::json bad = nlohmann::json::array();
  for (const auto& [path, reason] : bad_images.entries()) {
    nlohmann::json entry;
    put_text(entry, "path", path);
    entry["reason"] = reason;
    bad.push_back(std::move(entry));
  }
  return bad;
}

void check_request(const EmbedRequest& request) {
  const int sources = !request.checkpoint.empty() + !request.weights.empty() + !request.model.empty();
  if (sources != 1)
    throw SettingError("checkpoint", ": give one network: a checkpoint (from imret train), an architecture with "
                                     "weights, or a TorchScript model");
  if (!request.model.empty() && !request.arch.empty())
    throw SettingError("arch", ": a TorchScript model carries its architecture; --arch goes with --weights");
  if (request.model.empty() && (!request.model_settings.empty() || !request.model_output.empty()))
    throw SettingError("model_settings", ": the model's settings and output go with a TorchScript model (--model)");
  if (!request.whiten.empty() && !request.whiten_from.empty())
    throw SettingError("whiten", ": learn a whitening (--whiten) or apply a database's (--whiten-from), not both");
  if (!request.weights.empty() && request.arch.empty())
    throw SettingError("arch", ": weights need the architecture they belong to (e.g. resnet50)");
  if (!request.checkpoint.empty() && (request.preprocess.given() || !request.arch.empty()))
    throw SettingError("checkpoint", ": a checkpoint carries its network and preprocessing; the architecture and "
                                     "the preprocessing go with weights");
}

}  // namespace

int64_t embed_dataset_to_folder(const models::LoadedNetwork& loaded, std::shared_ptr<const data::Dataset> dataset,
                                const nlohmann::json& meta_in, const models::EmbedOptions& options,
                                const fs::path& folder, const std::vector<fs::path>& inputs,
                                const std::optional<models::WhitenSpec>& whiten) {
  if (dataset->channels() != loaded.info.spec.in_channels)
    throw UsageError(loaded.info.spec.arch + ": the network takes " + std::to_string(loaded.info.spec.in_channels) +
                     "-channel images but the data has " + std::to_string(dataset->channels()) + " channels");
  // Before the (long) embedding: a folder that may not be written, or that another imret writes, fails first.
  OutputFolder out(folder, embedding_folder_rules("embed", inputs));
  auto transform = data::make_eval_transform(data::Preprocess::from_json(loaded.info.preprocess));
  auto bad_images = std::make_shared<data::BadImageLog>();
  models::Embeddings embedded = models::embed_dataset(*loaded.network, dataset, transform, options, bad_images);
  std::vector<EmbeddedItem> items = embedded_items(*dataset, embedded.indices);
  // A shard's items keep their index in the whole split.
  if (meta_in.contains("shard"))
    for (EmbeddedItem& item : items) item.index += meta_in["shard"]["begin"].get<int64_t>();
  if (items.empty())
    throw Error("no image of " + std::to_string(dataset->size()) + " could be embedded (" +
                std::to_string(bad_images->count()) + " bad images): nothing written to " + folder.string());
  const float* values = embedded.values.data_ptr<float>();
  int64_t cols = embedded.values.size(1);
  const int64_t bad_row = first_nonfinite_row(values, embedded.values.size(0), cols);
  if (bad_row >= 0)
    throw Error(items[static_cast<size_t>(bad_row)].source + ": the network gives NaN or infinite embeddings (the "
                "checkpoint is broken: did training diverge?); nothing written to " + folder.string());
  nlohmann::json meta = meta_in;
  at::Tensor whitened;
  if (whiten) {
    std::vector<int64_t> labels;
    for (const EmbeddedItem& item : items) labels.push_back(item.label);
    const models::Whitening whitening = models::learn_whitening(*whiten, embedded.values, labels);
    whitened = whitening.apply(embedded.values).contiguous();
    values = whitened.data_ptr<float>();
    cols = whitened.size(1);
    const fs::path file = out.path() / "whitening.safetensors";
    models::save_whitening(file, whitening);
    meta["whitening"] = whitening.describe();
    meta["whitening"]["file"] = fs::absolute(folder / "whitening.safetensors").string();
  }
  meta["network"] = loaded.info.spec.to_json();
  meta["preprocess"] = loaded.info.preprocess;
  meta["precision"] = precision_name(options.precision);
  meta["classes"] = dataset->classes();
  meta["bad_images"] = bad_image_list(*bad_images);
  write_embedding_files(out.path(), values, embedded.values.size(0), cols, items, meta);
  out.publish({{"count", items.size()}, {"dimension", cols}});
  return static_cast<int64_t>(items.size());
}

EmbedOutcome embed_to_folder(const EmbedRequest& request, const fs::path& folder) {
  check_request(request);
  std::shared_ptr<data::Dataset> dataset;
  models::LoadedNetwork loaded;
  nlohmann::json meta = {{"data", request.data}, {"split", request.split}};
  std::vector<fs::path> inputs = {request.data};
  if (!request.checkpoint.empty()) {
    loaded = models::load_checkpoint(request.checkpoint);
    dataset = data::open_dataset(request.data, request.split, loaded.info.classes);
    meta["checkpoint"] = fs::absolute(request.checkpoint).string();
    inputs.push_back(request.checkpoint);
  } else if (!request.model.empty()) {
    dataset = data::open_dataset(request.data, request.split);
    const ScriptedModel scripted = scripted_model(request.model, request.model_settings, request.model_output,
                                                  request.pool, request.preprocess, dataset->channels());
    loaded.info.spec = scripted.spec;
    loaded.info.preprocess = scripted.preprocess.to_json();
    loaded.network = models::make_network(scripted.spec);
    meta["model"] = scripted.spec.model;
    inputs.push_back(request.model);
  } else {
    dataset = data::open_dataset(request.data, request.split);
    models::NetworkSpec spec;
    spec.arch = request.arch;
    spec.in_channels = dataset->channels();
    spec.num_classes = 0;  // the file's classifier
    if (!request.pool.empty()) spec.pool = models::parse_pool(request.pool).to_string();
    loaded = network_from_weights(spec, request.preprocess.resolve(dataset->channels()).to_json(), request.weights,
                                  request.weights_prefix);
    meta["weights"] = fs::absolute(request.weights).string();
    meta["weights_prefix"] = request.weights_prefix;
    inputs.push_back(request.weights);
  }
  std::string pool = request.pool.empty() ? loaded.info.spec.pool : models::parse_pool(request.pool).to_string();
  std::vector<double> scales = request.scales;
  nlohmann::json database_meta;
  if (!request.whiten_from.empty()) {
    // The queries of a whitened database: pooled and scaled as it was, unless told otherwise (refused).
    // Its meta.json only: the database's vectors are not needed.
    const fs::path meta_file = fs::path(request.whiten_from) / "meta.json";
    if (!fs::is_regular_file(meta_file))
      throw SettingError("whiten_from", " " + request.whiten_from + ": not an embedding folder (no meta.json)");
    try {
      database_meta = nlohmann::json::parse(read_file(meta_file));
    } catch (const nlohmann::json::exception& e) {
      throw Error(meta_file.string() + ": malformed JSON (" + std::string(e.what()) + ")");
    }
    if (!database_meta.contains("whitening"))
      throw SettingError("whiten_from", " " + request.whiten_from + ": this embedding folder is not whitened (embed "
                                        "it with --whiten pca or --whiten learned)");
    const models::NetworkSpec theirs =
        models::NetworkSpec::from_json(database_meta.value("network", nlohmann::json::object()));
    if (request.pool.empty()) pool = theirs.pool;
    if (request.scales.empty()) scales = theirs.scales;
    if (pool != theirs.pool || scales != theirs.scales)
      throw SettingError("whiten_from", " " + request.whiten_from + ": the database was pooled with " + theirs.pool +
                                        (theirs.scales.empty() ? "" : " at several scales") +
                                        "; its whitening fits those vectors only (leave --pool and --scales out)");
  }
  set_embedding_settings(loaded, pool, scales);
  std::optional<models::WhitenSpec> whiten;
  if (!request.whiten.empty()) whiten = models::parse_whiten(request.whiten);
  if (!request.whiten_from.empty()) {
    loaded.network->set_whitening(recorded_whitening(database_meta));
    meta["whitening"] = database_meta["whitening"];
  }
  if (whiten && request.shards > 1)
    throw SettingError("whiten", ": a shard would learn a whitening of its own part; embed the whole split with "
                                 "--whiten, or whiten the shards --whiten-from a whitened database");
  if (request.shards < 1 || request.shard < 0 || request.shard >= request.shards)
    throw SettingError("shard", " " + std::to_string(request.shard) + "/" + std::to_string(request.shards) +
                                    ": expected i/N with 0 <= i < N");
  if (request.shards > 1) {
    const int64_t size = dataset->size();
    if (request.shards > size)
      throw SettingError("shard", " " + std::to_string(request.shard) + "/" + std::to_string(request.shards) +
                                      ": the split has only " + std::to_string(size) +
                                      " items, fewer than the shards (each shard needs one)");
    const int64_t begin = size * request.shard / request.shards, end = size * (request.shard + 1) / request.shards;
    meta["shard"] = {{"index", request.shard}, {"count", request.shards}, {"begin", begin}, {"end", end},
                     {"split_items", size}};
    std::vector<int64_t> part;
    for (int64_t i = begin; i < end; ++i) part.push_back(i);
    dataset = data::subset(dataset, part);
  }
  EmbedOutcome outcome;
  outcome.images = dataset->size();
  outcome.dimension = loaded.network->embedding_dim();
  if (whiten) outcome.dimension = 0;  // known once learned
  outcome.embedded = embed_dataset_to_folder(loaded, dataset, meta, request.options, folder, inputs, whiten);
  if (whiten) outcome.dimension = nlohmann::json::parse(read_file(folder / "meta.json")).at("dimension").get<int64_t>();
  return outcome;
}

std::pair<int64_t, int64_t> parse_shard(const std::string& text, const std::string& setting) {
  const size_t slash = text.find('/');
  try {
    if (slash != std::string::npos) {
      size_t used_i = 0, used_n = 0;
      const std::string i_text = text.substr(0, slash), n_text = text.substr(slash + 1);
      const long long i = std::stoll(i_text, &used_i), n = std::stoll(n_text, &used_n);
      if (used_i == i_text.size() && used_n == n_text.size() && n >= 1 && i >= 0 && i < n) return {i, n};
    }
  } catch (const std::exception&) {
  }
  throw SettingError(setting, " '" + text + "': expected i/N, the i-th of N shards counting from 0 (e.g. 0/4)");
}

namespace {

// What must be the same in every shard's meta.json for them to form one embedding.
const char* const kSameInShards[] = {"data", "split", "checkpoint", "weights", "weights_prefix", "model",
                                     "network", "preprocess", "classes", "whitening"};

struct Shard {
  fs::path folder;
  EmbeddingSet set;
  int64_t index = 0, count = 0, begin = 0, end = 0, split_items = 0;
};

Shard read_shard(const fs::path& folder) {
  Shard shard;
  shard.folder = folder;
  shard.set = load_embedding_set(folder);
  const nlohmann::json& meta = shard.set.meta;
  if (!meta.contains("shard") || !meta["shard"].is_object())
    throw Error(folder.string() + ": not a shard (its meta.json has no \"shard\"; made by imret embed --shard i/N)");
  const nlohmann::json& s = meta["shard"];
  const auto whole = [&](const char* field) {
    if (!s.contains(field) || !s[field].is_number_integer() || s[field].get<int64_t>() < 0)
      throw Error(folder.string() + "/meta.json: \"shard\" needs a whole number \"" + field + "\"" +
                  (s.contains(field) ? " (it has " + s[field].dump() + ")" : ""));
    return s[field].get<int64_t>();
  };
  shard.index = whole("index");
  shard.count = whole("count");
  shard.begin = whole("begin");
  shard.end = whole("end");
  shard.split_items = whole("split_items");
  if (shard.index >= shard.count || shard.begin > shard.end || shard.end > shard.split_items)
    throw Error(folder.string() + "/meta.json: \"shard\" is inconsistent (" + s.dump() + ")");
  for (const EmbeddedItem& item : shard.set.items)
    if (item.index < shard.begin || item.index >= shard.end)
      throw Error(folder.string() + "/items.jsonl: item " + std::to_string(item.index) + " is outside the shard's " +
                  std::to_string(shard.begin) + ".." + std::to_string(shard.end));
  return shard;
}

}  // namespace

MergeOutcome merge_embedding_shards(const std::vector<fs::path>& folders, const fs::path& folder) {
  if (folders.empty()) throw UsageError("merging shards needs the shard folders");
  std::vector<Shard> shards;
  for (const fs::path& f : folders) shards.push_back(read_shard(f));
  std::sort(shards.begin(), shards.end(), [](const Shard& a, const Shard& b) { return a.index < b.index; });
  const Shard& first = shards.front();
  for (const Shard& shard : shards) {
    if (shard.count != first.count || shard.split_items != first.split_items)
      throw Error(shard.folder.string() + ": shard " + std::to_string(shard.index) + "/" + std::to_string(shard.count) +
                  " of " + std::to_string(shard.split_items) + " items does not belong with " + first.folder.string() +
                  " (shard " + std::to_string(first.index) + "/" + std::to_string(first.count) + " of " +
                  std::to_string(first.split_items) + " items)");
    for (const char* key : kSameInShards) {
      const nlohmann::json mine = shard.set.meta.value(key, nlohmann::json()), theirs = first.set.meta.value(key, nlohmann::json());
      if (mine != theirs)
        throw Error(shard.folder.string() + ": its \"" + key + "\" (" + mine.dump() + ") differs from " +
                    first.folder.string() + "'s (" + theirs.dump() + "): not shards of one embedding");
    }
    if (shard.set.embeddings.cols != first.set.embeddings.cols)
      throw Error(shard.folder.string() + ": " + std::to_string(shard.set.embeddings.cols) +
                  "-d embeddings, but " + first.folder.string() + " has " + std::to_string(first.set.embeddings.cols));
  }
  for (size_t k = 0; k < shards.size(); ++k) {
    if (k > 0 && shards[k].index == shards[k - 1].index)
      throw Error(shards[k].folder.string() + ": shard " + std::to_string(shards[k].index) + " is given twice (also " +
                  shards[k - 1].folder.string() + ")");
  }
  std::vector<int64_t> missing;
  for (int64_t i = 0, k = 0; i < first.count; ++i) {
    if (k < static_cast<int64_t>(shards.size()) && shards[static_cast<size_t>(k)].index == i)
      ++k;
    else
      missing.push_back(i);
  }
  if (!missing.empty()) {
    std::string list;
    for (int64_t i : missing) list += (list.empty() ? "" : ", ") + std::to_string(i);
    throw Error("shard" + std::string(missing.size() > 1 ? "s " : " ") + list + " of " + std::to_string(first.count) +
                " missing: every shard of the split is needed to merge");
  }
  int64_t expected_begin = 0;
  for (const Shard& shard : shards) {
    if (shard.begin != expected_begin)
      throw Error(shard.folder.string() + ": shard " + std::to_string(shard.index) + " starts at item " +
                  std::to_string(shard.begin) + ", not " + std::to_string(expected_begin));
    expected_begin = shard.end;
  }
  if (expected_begin != first.split_items)
    throw Error("the shards cover " + std::to_string(expected_begin) + " of the split's " +
                std::to_string(first.split_items) + " items");

  const int64_t cols = first.set.embeddings.cols;
  int64_t rows = 0;
  for (const Shard& shard : shards) rows += shard.set.embeddings.rows;
  std::vector<float> values;
  values.reserve(static_cast<size_t>(rows * cols));
  std::vector<EmbeddedItem> items;
  items.reserve(static_cast<size_t>(rows));
  nlohmann::json bad = nlohmann::json::array();
  nlohmann::json from = nlohmann::json::array();
  for (const Shard& shard : shards) {
    values.insert(values.end(), shard.set.embeddings.values.begin(), shard.set.embeddings.values.end());
    items.insert(items.end(), shard.set.items.begin(), shard.set.items.end());
    for (const auto& entry : shard.set.meta.value("bad_images", nlohmann::json::array())) bad.push_back(entry);
    from.push_back(fs::absolute(shard.folder).string());
  }
  nlohmann::json meta = first.set.meta;
  for (const char* key : {"shard", "count", "dimension"}) meta.erase(key);
  meta["bad_images"] = bad;
  meta["merged_from"] = from;
  save_embedding_set(folder, values.data(), rows, cols, items, meta);
  return {rows, cols, static_cast<int64_t>(shards.size())};
}

}  // namespace imret::pipeline
