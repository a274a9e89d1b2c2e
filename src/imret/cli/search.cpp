// imret search: the top-K database items for each query, as a table or JSON.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/core/error.hpp"
#include "imret/core/runtime.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/models/pretrained.hpp"
#include "imret/search/exact_index.hpp"

namespace imret::cli {
namespace {

struct SearchArgs {
  std::string database;
  std::string queries;
  std::vector<std::string> images;
  std::string checkpoint;
  int64_t first = 10;
  int64_t k = 5;
  std::string metric = "euclidean";
  std::string device = "cpu";
  bool json = false;
};

// The network the database was embedded with: --checkpoint, else the
// checkpoint or the weights (with architecture and preprocessing) recorded
// in the database's meta.json.
models::LoadedNetwork database_network(const SearchArgs& args, const EmbeddingSet& database) {
  if (!args.checkpoint.empty()) return models::load_checkpoint(args.checkpoint);
  const nlohmann::json& meta = database.meta;
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

// Query images embedded with the database's network. Grey networks (trained
// on 28x28 images) get the image converted to grey and resized to 28x28.
EmbeddingSet embed_query_images(const SearchArgs& args, const EmbeddingSet& database) {
  models::LoadedNetwork loaded = database_network(args, database);
  auto transform = data::make_eval_transform(data::Preprocess::from_json(loaded.info.preprocess));
  std::mt19937_64 rng(0);
  std::vector<at::Tensor> inputs;
  EmbeddingSet queries;
  for (const auto& path : args.images) {
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
    queries.items.push_back({static_cast<int64_t>(queries.items.size()), path, -1, ""});
  }
  loaded.network->eval();
  torch::NoGradGuard no_grad;
  at::Tensor embedded = loaded.network->embed(torch::stack(inputs)).contiguous();
  queries.embeddings.rows = embedded.size(0);
  queries.embeddings.cols = embedded.size(1);
  queries.embeddings.values.assign(embedded.data_ptr<float>(), embedded.data_ptr<float>() + embedded.numel());
  return queries;
}

void run_search(const SearchArgs& args) {
  if (args.queries.empty() == args.images.empty())
    throw UsageError("give either --queries (an embedding folder) or --image (image files)");
  const EmbeddingSet database = load_embedding_set(args.database);
  const EmbeddingSet queries = args.images.empty() ? load_embedding_set(args.queries) : embed_query_images(args, database);
  if (args.k < 1) throw UsageError("--k must be at least 1");
  const int64_t count = args.first > 0 ? std::min<int64_t>(args.first, queries.embeddings.rows) : queries.embeddings.rows;
  const search::Metric metric = search::parse_metric(args.metric);
  search::ExactIndex index(metric, parse_device(args.device));
  index.add(embeddings_tensor(database));
  const at::Tensor query_tensor = embeddings_tensor(queries).narrow(0, 0, count);
  const search::SearchResult result = index.search(query_tensor, args.k);
  auto ids = result.ids.accessor<int64_t, 2>();
  auto scores = result.scores.accessor<float, 2>();
  const char* score_name = metric == search::Metric::Cosine ? "similarity" : "distance";

  nlohmann::json out = nlohmann::json::array();
  for (int64_t q = 0; q < count; ++q) {
    const EmbeddedItem& query = queries.items[static_cast<size_t>(q)];
    nlohmann::json results = nlohmann::json::array();
    if (!args.json) std::printf("query %lld  %s  [%s]\n", static_cast<long long>(q), query.source.c_str(), query.class_name.c_str());
    for (int64_t r = 0; r < result.ids.size(1); ++r) {
      if (ids[q][r] < 0) break;
      const EmbeddedItem& hit = database.items[static_cast<size_t>(ids[q][r])];
      const bool same = query.label >= 0 && hit.label == query.label;
      results.push_back({{"rank", r + 1}, {"id", ids[q][r]}, {score_name, scores[q][r]}, {"source", hit.source},
                         {"label", hit.label}, {"class", hit.class_name}, {"same_class", same}});
      if (!args.json)
        std::printf("  %2lld  %s %-10.4f %s %-14s %s\n", static_cast<long long>(r + 1), score_name, scores[q][r],
                    same ? "+" : "-", ("[" + hit.class_name + "]").c_str(), hit.source.c_str());
    }
    out.push_back({{"query", q}, {"source", query.source}, {"label", query.label}, {"class", query.class_name},
                   {"results", results}});
  }
  if (args.json) std::printf("%s\n", out.dump(2).c_str());
}

}  // namespace

void add_search_command(CLI::App& app) {
  auto args = std::make_shared<SearchArgs>();
  CLI::App* command = app.add_subcommand("search", "Top-K database items for query embeddings or query images");
  command->add_option("-d,--database", args->database, "Database embedding folder (from imret embed)")->required();
  command->add_option("-q,--queries", args->queries, "Query embedding folder");
  command->add_option("--image", args->images, "Query image file(s), embedded with the checkpoint");
  command->add_option("-c,--checkpoint", args->checkpoint,
                      "Checkpoint for --image (default: the one recorded in the database's meta.json)");
  command->add_option("--first", args->first, "Search only the first N queries (0: all)")->capture_default_str();
  command->add_option("-k,--k", args->k, "Results per query")->capture_default_str();
  command->add_option("--metric", args->metric, "euclidean or cosine")->capture_default_str();
  command->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_flag("--json", args->json, "JSON instead of a table");
  command->callback([args] { run_search(*args); });
}

}  // namespace imret::cli
