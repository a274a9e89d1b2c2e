// imret search: the top-K database items for each query, as a table or JSON.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/core/error.hpp"
#include "imret/core/runtime.hpp"
#include "imret/search/exact_index.hpp"

namespace imret::cli {
namespace {

struct SearchArgs {
  std::string database;
  std::string queries;
  int64_t first = 10;
  int64_t k = 5;
  std::string metric = "euclidean";
  std::string device = "cpu";
  bool json = false;
};

void run_search(const SearchArgs& args) {
  const EmbeddingSet database = load_embedding_set(args.database);
  const EmbeddingSet queries = load_embedding_set(args.queries);
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
  CLI::App* command = app.add_subcommand("search", "Top-K database items for query embeddings");
  command->add_option("-d,--database", args->database, "Database embedding folder (from imret embed)")->required();
  command->add_option("-q,--queries", args->queries, "Query embedding folder")->required();
  command->add_option("--first", args->first, "Search only the first N queries (0: all)")->capture_default_str();
  command->add_option("-k,--k", args->k, "Results per query")->capture_default_str();
  command->add_option("--metric", args->metric, "euclidean or cosine")->capture_default_str();
  command->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_flag("--json", args->json, "JSON instead of a table");
  command->callback([args] { run_search(*args); });
}

}  // namespace imret::cli
