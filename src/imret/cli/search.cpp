// imret search: the top-K database items for each query, as a table or JSON,
// from an embedding folder indexed on the fly (any backend).
#include <CLI/CLI.hpp>

#include "imret/cli/commands.hpp"
#include "imret/cli/queries.hpp"
#include "imret/core/embedding_tensor.hpp"
#include "imret/core/runtime.hpp"
#include "imret/pipeline/index_jobs.hpp"
#include "imret/rerank/plan.hpp"

namespace imret::cli {
namespace {

struct SearchArgs {
  std::string database;
  QueryArgs query;
  std::string index = "exact";
  std::string metric = "euclidean";
  std::string device = "cpu";
  QueryParameterArgs parameters;
  std::vector<std::string> rerank;
  int64_t rerank_depth = 100;
};

void run_search(const SearchArgs& args) {
  const EmbeddingSet database = load_embedding_set(args.database);
  const EmbeddingSet queries = args.query.load(database.meta);
  const int64_t count = args.query.count(queries);
  rerank::Plan plan(args.rerank.empty() ? "none" : args.rerank.front(), args.rerank_depth);
  const auto index = pipeline::index_in_memory(database, args.index, search::parse_metric(args.metric),
                                               parse_device(args.device), args.parameters.parameters(), plan);
  plan.prepare(*index);
  const rerank::RerankedResult found = plan.search(*index, embeddings_tensor(queries).narrow(0, 0, count), args.query.k);
  print_search_results(found.result, queries.items, count, database.items, args.query.json, found.rerank_scores);
}

}  // namespace

void add_search_command(CLI::App& app) {
  auto args = std::make_shared<SearchArgs>();
  CLI::App* command = app.add_subcommand("search", "Top-K database items for query embeddings or query images");
  command->add_option("-d,--database", args->database, "Database embedding folder (from imret embed)")->required();
  args->query.add_options(*command, "Query image file(s), embedded with the checkpoint",
                          "Checkpoint for --image (default: the one recorded in the database's meta.json)");
  command->add_option("--index", args->index, "exact, exact:cosine or faiss:<index_factory string>, built on the fly "
                                              "(imret index build saves one)")
      ->capture_default_str();
  command->add_option("--metric", args->metric, "euclidean or cosine")->capture_default_str();
  command->add_option("--device", args->device, "cpu, cuda or cuda:N (exact index)")->capture_default_str();
  args->parameters.add_options(*command);
  add_rerank_options(*command, args->rerank, args->rerank_depth, false);
  command->callback([args] { run_search(*args); });
}

}  // namespace imret::cli
