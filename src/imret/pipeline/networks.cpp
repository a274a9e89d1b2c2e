#include "imret/pipeline/networks.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include "imret/core/embedding_tensor.hpp"
#include "imret/core/error.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/core/tensor_file.hpp"
#include "imret/models/pooling.hpp"
#include "imret/models/pretrained.hpp"
#include "imret/models/scripted_network.hpp"

namespace imret::pipeline {

models::LoadedNetwork network_from_weights(models::NetworkSpec spec, const nlohmann::json& preprocess,
                                           const std::filesystem::path& weights,
                                           const std::vector<std::string>& prefix_rules) {
  TensorFile file = load_tensor_file(weights);
  models::apply_prefix_rules(file, prefix_rules);
  if (spec.num_classes <= 0) spec.num_classes = std::max<int64_t>(1, models::classifier_outputs(file));
  models::LoadedNetwork loaded;
  loaded.info.spec = spec;
  loaded.info.preprocess = preprocess;
  loaded.network = models::make_network(spec);
  models::load_pretrained(*loaded.network, std::move(file), weights.string(), {});
  return loaded;
}

ScriptedModel scripted_model(const std::string& model, const std::string& settings_file, const std::string& output,
                             const std::string& pool, const data::PreprocessChoice& given, int64_t data_channels) {
  const nlohmann::json settings = models::scripted_model_settings(model, settings_file);
  data::PreprocessChoice choice = given;
  const int64_t input_size = settings.value("input_size", int64_t{0});
  if (choice.resize < 0) choice.resize = settings.value("resize", input_size > 0 ? input_size : int64_t{-1});
  if (choice.crop < 0) choice.crop = settings.value("crop", input_size > 0 ? input_size : int64_t{-1});
  if (choice.mean.empty()) choice.mean = settings.value("mean", std::vector<double>{});
  if (choice.std.empty()) choice.std = settings.value("std", std::vector<double>{});
  ScriptedModel scripted;
  scripted.preprocess = choice.resolve(data_channels);
  models::NetworkSpec& spec = scripted.spec;
  spec.arch = "torchscript";
  spec.in_channels = settings.value("channels", data_channels);
  spec.num_classes = 1;
  spec.model = std::filesystem::absolute(model).string();
  spec.model_method = settings.value("method", spec.model_method);
  spec.model_output = !output.empty() ? output : settings.value("output", std::string());
  const data::Preprocess& p = scripted.preprocess;
  spec.input_size = input_size > 0 ? input_size : p.crop > 0 ? p.crop : p.resize > 0 ? p.resize : spec.input_size;
  const std::string pooling = !pool.empty() ? pool : settings.value("pool", std::string("gap"));
  spec.pool = models::parse_pool(pooling, pool.empty() ? model + " settings: pool" : "pool").to_string();
  return scripted;
}

void set_embedding_settings(models::LoadedNetwork& loaded, const std::string& pool, const std::vector<double>& scales) {
  models::NetworkSpec& spec = loaded.info.spec;
  const bool several = !scales.empty() && !(scales.size() == 1 && scales[0] == 1.0);
  if (several && spec.arch == "convnet")
    throw SettingError("scales", ": the convnet takes its input size only (28 x 28); multi-scale descriptors are for "
                                 "resnets and TorchScript backbones");
  const std::string canonical = models::parse_pool(pool).to_string();
  if (canonical != spec.pool) {
    models::NetworkSpec pooled = spec;
    pooled.pool = canonical;
    std::shared_ptr<models::Network> network = models::make_network(pooled);
    models::load_state(*network, models::state_dict(*loaded.network), "the network pooled with " + canonical,
                       {"pool."});
    loaded.network = std::move(network);
    spec.pool = canonical;
  }
  loaded.network->set_scales(scales);
  spec.scales = scales.size() == 1 && scales[0] == 1.0 ? std::vector<double>{} : scales;
}

std::shared_ptr<const models::Whitening> recorded_whitening(const nlohmann::json& meta) {
  if (!meta.contains("whitening")) return nullptr;
  const nlohmann::json& recorded = meta.at("whitening");
  if (!recorded.is_object() || !recorded.contains("file") || !recorded["file"].is_string())
    throw Error("meta.json: \"whitening\" should name its file (\"file\"), got " + recorded.dump());
  const std::string file = recorded["file"].get<std::string>();
  auto whitening = std::make_shared<models::Whitening>(models::load_whitening(file));
  if (recorded.contains("fingerprint") && recorded["fingerprint"] != whitening->fingerprint())
    throw Error(file + ": this whitening is not the one the embeddings were made with (fingerprint " +
                whitening->fingerprint() + ", meta.json records " + recorded["fingerprint"].dump() +
                "); embed them again");
  return whitening;
}

models::LoadedNetwork embedding_network(const nlohmann::json& meta, const std::string& checkpoint) {
  models::LoadedNetwork loaded;
  const nlohmann::json recorded = meta.value("network", nlohmann::json::object());
  if (!checkpoint.empty()) {
    loaded = models::load_checkpoint(checkpoint);
  } else if (meta.contains("checkpoint")) {
    loaded = models::load_checkpoint(meta.at("checkpoint").get<std::string>());
  } else if (meta.contains("weights") && meta.contains("network") && meta.contains("preprocess")) {
    loaded = network_from_weights(models::NetworkSpec::from_json(recorded), meta.at("preprocess"),
                                  meta.at("weights").get<std::string>(),
                                  meta.value("weights_prefix", std::vector<std::string>()));
  } else if (meta.contains("model") && meta.contains("network") && meta.contains("preprocess")) {
    loaded.info.spec = models::NetworkSpec::from_json(recorded);
    loaded.info.preprocess = meta.at("preprocess");
    loaded.network = models::make_network(loaded.info.spec);
  } else {
    throw UsageError("checkpoint: the database's meta.json does not name the network it came from; give the "
                     "checkpoint to embed the query images with");
  }
  // A network embedded with another pooling or at several scales (a checkpoint given instead
  // of the recorded one too: the database's vectors were pooled so).
  if (!recorded.empty()) {
    const models::NetworkSpec as_embedded = models::NetworkSpec::from_json(recorded);
    set_embedding_settings(loaded, as_embedded.pool, as_embedded.scales);
  }
  loaded.network->set_whitening(recorded_whitening(meta));
  return loaded;
}

namespace {
std::string described(const nlohmann::json& whitening) {
  return whitening.value("method", std::string("?")) + ", " + whitening.value("file", std::string("?"));
}
}  // namespace

void match_database_whitening(EmbeddingSet& queries, const nlohmann::json& database_meta,
                              const std::string& queries_name) {
  const bool database_whitened = database_meta.contains("whitening");
  const bool queries_whitened = queries.meta.contains("whitening");
  if (!database_whitened && !queries_whitened) return;
  if (!database_whitened)
    throw Error(queries_name + ": the queries are whitened (" + queries.meta["whitening"].value("method", "?") +
                ") but the database is not: whiten both, or neither");
  const nlohmann::json& theirs = database_meta.at("whitening");
  if (queries_whitened) {
    const nlohmann::json& mine = queries.meta.at("whitening");
    if (mine.value("fingerprint", "") != theirs.value("fingerprint", "x"))
      throw Error(queries_name + ": the queries were whitened with another whitening (" + described(mine) +
                  ") than the database's (" + described(theirs) + "); embed them with --whiten-from the database");
    return;
  }
  const std::shared_ptr<const models::Whitening> whitening = recorded_whitening(database_meta);
  const at::Tensor raw = embeddings_tensor(queries);
  if (raw.size(1) != whitening->input_dim())
    throw Error(queries_name + ": " + std::to_string(raw.size(1)) + "-d queries, but the database's whitening takes " +
                std::to_string(whitening->input_dim()) + "-d embeddings (were they made with the same network?)");
  const at::Tensor whitened = whitening->apply(raw).contiguous();
  queries.embeddings.cols = whitened.size(1);
  queries.embeddings.values.assign(whitened.data_ptr<float>(), whitened.data_ptr<float>() + whitened.numel());
  queries.meta["whitening"] = theirs;
  spdlog::info("{}: whitened the queries with the database's whitening ({}, {} -> {} dimensions)", queries_name,
               theirs.value("method", "?"), whitening->input_dim(), whitening->output_dim());
}

}  // namespace imret::pipeline
