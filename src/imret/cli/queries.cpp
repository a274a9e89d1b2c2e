#include "imret/cli/queries.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <random>

#include "imret/core/error.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/transforms.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/models/pretrained.hpp"

namespace imret::cli {
namespace {

// The network the database was embedded with: `checkpoint`, else the
// checkpoint or the weights (with architecture and preprocessing) in its meta.json.
models::LoadedNetwork database_network(const std::string& checkpoint, const nlohmann::json& meta) {
  if (!checkpoint.empty()) return models::load_checkpoint(checkpoint);
  if (meta.contains("checkpoint")) return models::load_checkpoint(meta.at("checkpoint").get<std::string>());
  if (meta.contains("weights") && meta.contains("network") && meta.contains("preprocess")) {
    models::LoadedNetwork loaded;
    loaded.info.spec = models::NetworkSpec::from_json(meta.at("network"));
    loaded.info.preprocess = meta.at("preprocess");
    loaded.network = models::make_network(loaded.info.spec);
    models::WeightOptions options;
    options.prefix_rules = meta.value("weights_prefix", std::vector<std::string>());
    models::load_pretrained(*loaded.network, meta.at("weights").get<std::string>(), options);
    return loaded;
  }
  throw UsageError("--image needs --checkpoint: the database's meta.json does not name the network it came from");
}

const char* score_name(search::Metric metric) { return metric == search::Metric::Cosine ? "similarity" : "distance"; }

nlohmann::json hit_json(int64_t rank, int64_t id, float score, search::Metric metric, const EmbeddedItem& query,
                        const EmbeddedItem& hit) {
  const bool same = query.label >= 0 && hit.label == query.label;
  return {{"rank", rank}, {"id", id}, {score_name(metric), score}, {"source", hit.source},
          {"label", hit.label}, {"class", hit.class_name}, {"same_class", same}};
}

void print_hit(int64_t rank, float score, search::Metric metric, const EmbeddedItem& query, const EmbeddedItem& hit) {
  const bool same = query.label >= 0 && hit.label == query.label;
  std::printf("  %2lld  %s %-10.4f %s %-14s %s\n", static_cast<long long>(rank), score_name(metric), score,
              same ? "+" : "-", ("[" + hit.class_name + "]").c_str(), hit.source.c_str());
}

nlohmann::json query_json(int64_t q, const EmbeddedItem& query, nlohmann::json results) {
  return {{"query", q}, {"source", query.source}, {"label", query.label}, {"class", query.class_name},
          {"results", std::move(results)}};
}

void print_query_header(int64_t q, const EmbeddedItem& query) {
  std::printf("query %lld  %s  [%s]\n", static_cast<long long>(q), query.source.c_str(), query.class_name.c_str());
}

const EmbeddedItem& item_of(const std::vector<EmbeddedItem>& items, int64_t id) {
  if (id < 0 || id >= static_cast<int64_t>(items.size()))
    throw Error("search result id " + std::to_string(id) + " has no item (the index holds " +
                std::to_string(items.size()) + ")");
  return items[static_cast<size_t>(id)];
}

}  // namespace

// Image files embedded with `checkpoint`, else with the checkpoint or the
// weights recorded in `database_meta` (an embedding folder's meta.json).
// Grey networks (28x28) get each image converted to grey and resized.
static EmbeddingSet embed_query_images(const std::vector<std::string>& images, const nlohmann::json& database_meta,
                                       const std::string& checkpoint) {
  models::LoadedNetwork loaded = database_network(checkpoint, database_meta);
  auto transform = data::make_eval_transform(data::Preprocess::from_json(loaded.info.preprocess));
  std::mt19937_64 rng(0);
  std::vector<at::Tensor> inputs;
  EmbeddingSet queries;
  for (const auto& path : images) {
    at::Tensor image = data::decode_image_rgb(path);
    if (loaded.info.spec.in_channels == 1) {
      const at::Tensor weights = torch::tensor({0.299f, 0.587f, 0.114f}).view({3, 1, 1});
      image = (image * weights).sum(0, true);
      image = torch::nn::functional::interpolate(
                  image.unsqueeze(0), torch::nn::functional::InterpolateFuncOptions()
                                          .size(std::vector<int64_t>{28, 28})
                                          .mode(torch::kBilinear)
                                          .align_corners(false))
                  .squeeze(0);
    }
    inputs.push_back(transform->apply(image, rng));
    queries.items.push_back({static_cast<int64_t>(queries.items.size()), path, -1, "", std::nullopt});
  }
  loaded.network->eval();
  torch::NoGradGuard no_grad;
  at::Tensor embedded = loaded.network->embed(torch::stack(inputs)).contiguous();
  queries.embeddings.rows = embedded.size(0);
  queries.embeddings.cols = embedded.size(1);
  queries.embeddings.values.assign(embedded.data_ptr<float>(), embedded.data_ptr<float>() + embedded.numel());
  return queries;
}

void QueryArgs::add_options(CLI::App& command, const std::string& image_help, const std::string& checkpoint_help) {
  command.add_option("-q,--queries", queries, "Query embedding folder");
  command.add_option("--image", images, image_help);
  command.add_option("-c,--checkpoint", checkpoint, checkpoint_help);
  command.add_option("--first", first, "Search only the first N queries (0: all)")->capture_default_str();
  command.add_option("-k,--k", k, "Results per query")->capture_default_str();
  command.add_flag("--json", json, "JSON instead of a table");
}

EmbeddingSet QueryArgs::load(const nlohmann::json& database_meta) const {
  if (queries.empty() == images.empty())
    throw UsageError("give either --queries (an embedding folder) or --image (image files)");
  if (k < 1) throw UsageError("--k must be at least 1");
  return images.empty() ? load_embedding_set(queries) : embed_query_images(images, database_meta, checkpoint);
}

int64_t QueryArgs::count(const EmbeddingSet& set) const {
  return first > 0 ? std::min<int64_t>(first, set.embeddings.rows) : set.embeddings.rows;
}

void QueryParameterArgs::add_options(CLI::App& command) {
  command.add_option("--nprobe", nprobe, "IVF indexes: inverted lists visited per query (FAISS default 1)");
  command.add_option("--ef-search", ef_search, "HNSW indexes: candidate list size per query (FAISS default 16)");
  command.add_option("--param", params,
                     "Any FAISS parameter, name=value (repeatable); efConstruction (HNSW) applies when building");
}

void QueryParameterArgs::apply(search::Index& index) const {
  if (nprobe < 0 || ef_search < 0) throw UsageError("--nprobe and --ef-search must be positive");
  if (nprobe > 0) index.set_parameter("nprobe", static_cast<double>(nprobe));
  if (ef_search > 0) index.set_parameter("efSearch", static_cast<double>(ef_search));
  for (const auto& param : params) {
    const size_t eq = param.find('=');
    double value = 0;
    try {
      if (eq == std::string::npos || eq == 0) throw std::invalid_argument(param);
      size_t used = 0;
      value = std::stod(param.substr(eq + 1), &used);
      if (used != param.size() - eq - 1) throw std::invalid_argument(param);
    } catch (const std::exception&) {
      throw UsageError("--param " + param + ": expected name=number, e.g. nprobe=16");
    }
    index.set_parameter(param.substr(0, eq), value);
  }
}

void note_k_above_database(int64_t k, int64_t database_items) {
  if (k > database_items)
    spdlog::warn("k {} is more than the {} database items: each query gets at most {}", k, database_items,
                 database_items);
}

void print_search_results(const search::SearchResult& result, const std::vector<EmbeddedItem>& queries, int64_t count,
                          const std::vector<EmbeddedItem>& database, bool json) {
  note_k_above_database(result.ids.size(1), static_cast<int64_t>(database.size()));
  auto ids = result.ids.accessor<int64_t, 2>();
  auto scores = result.scores.accessor<float, 2>();
  nlohmann::json out = nlohmann::json::array();
  for (int64_t q = 0; q < count; ++q) {
    const EmbeddedItem& query = queries[static_cast<size_t>(q)];
    nlohmann::json results = nlohmann::json::array();
    if (!json) print_query_header(q, query);
    for (int64_t r = 0; r < result.ids.size(1); ++r) {
      if (ids[q][r] < 0) break;
      const EmbeddedItem& hit = item_of(database, ids[q][r]);
      if (json) results.push_back(hit_json(r + 1, ids[q][r], scores[q][r], result.metric, query, hit));
      else print_hit(r + 1, scores[q][r], result.metric, query, hit);
    }
    if (json) out.push_back(query_json(q, query, std::move(results)));
  }
  if (json) std::printf("%s\n", out.dump(2).c_str());
}

void print_range_results(const search::RangeResult& result, const std::vector<EmbeddedItem>& queries,
                         const std::vector<EmbeddedItem>& database, bool json) {
  auto lims = result.lims.accessor<int64_t, 1>();
  auto ids = result.ids.accessor<int64_t, 1>();
  auto scores = result.scores.accessor<float, 1>();
  nlohmann::json out = nlohmann::json::array();
  for (int64_t q = 0; q + 1 < result.lims.size(0); ++q) {
    const EmbeddedItem& query = queries[static_cast<size_t>(q)];
    nlohmann::json results = nlohmann::json::array();
    if (!json) {
      print_query_header(q, query);
      std::printf("  %lld within the radius\n", static_cast<long long>(lims[q + 1] - lims[q]));
    }
    for (int64_t j = lims[q]; j < lims[q + 1]; ++j) {
      const EmbeddedItem& hit = item_of(database, ids[j]);
      if (json) results.push_back(hit_json(j - lims[q] + 1, ids[j], scores[j], result.metric, query, hit));
      else print_hit(j - lims[q] + 1, scores[j], result.metric, query, hit);
    }
    if (json) out.push_back(query_json(q, query, std::move(results)));
  }
  if (json) std::printf("%s\n", out.dump(2).c_str());
}

}  // namespace imret::cli
