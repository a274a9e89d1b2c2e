#include "imret/pipeline/networks.hpp"

#include "imret/core/error.hpp"
#include "imret/core/tensor_file.hpp"
#include "imret/models/pretrained.hpp"

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

models::LoadedNetwork embedding_network(const nlohmann::json& meta, const std::string& checkpoint) {
  if (!checkpoint.empty()) return models::load_checkpoint(checkpoint);
  if (meta.contains("checkpoint")) return models::load_checkpoint(meta.at("checkpoint").get<std::string>());
  if (meta.contains("weights") && meta.contains("network") && meta.contains("preprocess"))
    return network_from_weights(models::NetworkSpec::from_json(meta.at("network")), meta.at("preprocess"),
                                meta.at("weights").get<std::string>(),
                                meta.value("weights_prefix", std::vector<std::string>()));
  throw UsageError("checkpoint: the database's meta.json does not name the network it came from; give the checkpoint "
                   "to embed the query images with");
}

}  // namespace imret::pipeline
