#include "imret/pipeline/embed_job.hpp"

#include <torch/torch.h>

#include "imret/core/embedding_set.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/data/image_folder.hpp"
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
  if (request.checkpoint.empty() == request.weights.empty())
    throw SettingError("checkpoint", ": give either a checkpoint (from imret train) or an architecture with weights");
  if (!request.weights.empty() && request.arch.empty())
    throw SettingError("arch", ": weights need the architecture they belong to (e.g. resnet50)");
  if (!request.checkpoint.empty() && (request.preprocess.given() || !request.arch.empty()))
    throw SettingError("checkpoint", ": a checkpoint carries its network and preprocessing; the architecture and "
                                     "the preprocessing go with weights");
}

}  // namespace

int64_t embed_dataset_to_folder(const models::LoadedNetwork& loaded, std::shared_ptr<const data::Dataset> dataset,
                                const nlohmann::json& meta_in, const models::EmbedOptions& options,
                                const fs::path& folder, const std::vector<fs::path>& inputs) {
  if (dataset->channels() != loaded.info.spec.in_channels)
    throw UsageError(loaded.info.spec.arch + ": the network takes " + std::to_string(loaded.info.spec.in_channels) +
                     "-channel images but the data has " + std::to_string(dataset->channels()) + " channels");
  // Before the (long) embedding: a folder that may not be written, or that another imret writes, fails first.
  OutputFolder out(folder, embedding_folder_rules("embed", inputs));
  auto transform = data::make_eval_transform(data::Preprocess::from_json(loaded.info.preprocess));
  auto bad_images = std::make_shared<data::BadImageLog>();
  models::Embeddings embedded = models::embed_dataset(*loaded.network, dataset, transform, options, bad_images);
  const std::vector<EmbeddedItem> items = embedded_items(*dataset, embedded.indices);
  if (items.empty())
    throw Error("no image of " + std::to_string(dataset->size()) + " could be embedded (" +
                std::to_string(bad_images->count()) + " bad images): nothing written to " + folder.string());
  const float* values = embedded.values.data_ptr<float>();
  const int64_t cols = embedded.values.size(1);
  const int64_t bad_row = first_nonfinite_row(values, embedded.values.size(0), cols);
  if (bad_row >= 0)
    throw Error(items[static_cast<size_t>(bad_row)].source + ": the network gives NaN or infinite embeddings (the "
                "checkpoint is broken: did training diverge?); nothing written to " + folder.string());
  nlohmann::json meta = meta_in;
  meta["network"] = loaded.info.spec.to_json();
  meta["preprocess"] = loaded.info.preprocess;
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
  } else {
    dataset = data::open_dataset(request.data, request.split);
    models::NetworkSpec spec;
    spec.arch = request.arch;
    spec.in_channels = dataset->channels();
    spec.num_classes = 0;  // the file's classifier
    loaded = network_from_weights(spec, request.preprocess.resolve(dataset->channels()).to_json(), request.weights,
                                  request.weights_prefix);
    meta["weights"] = fs::absolute(request.weights).string();
    meta["weights_prefix"] = request.weights_prefix;
    inputs.push_back(request.weights);
  }
  EmbedOutcome outcome;
  outcome.images = dataset->size();
  outcome.dimension = loaded.network->embedding_dim();
  outcome.embedded = embed_dataset_to_folder(loaded, dataset, meta, request.options, folder, inputs);
  return outcome;
}

}  // namespace imret::pipeline
