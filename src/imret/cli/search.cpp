// imret search: the top-K database items for each query, as a table or JSON,
// from an embedding folder indexed on the fly (any backend).
#include <CLI/CLI.hpp>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/cli/queries.hpp"
#include "imret/core/error.hpp"
#include "imret/core/runtime.hpp"

namespace imret::cli {
namespace {

struct SearchArgs {
  std::string database;
  std::string queries;
  std::vector<std::string> images;
  std::string checkpoint;
  std::string index = "exact";
  int64_t first = 10;
  int64_t k = 5;
  std::string metric = "euclidean";
  std::string device = "cpu";
  QueryParameterArgs parameters;
  bool json = false;
};

void run_search(const SearchArgs& args) {
  if (args.queries.empty() == args.images.empty())
    throw UsageError("give either --queries (an embedding folder) or --image (image files)");
  if (args.k < 1) throw UsageError("--k must be at least 1");
  const EmbeddingSet database = load_embedding_set(args.database);
  const EmbeddingSet queries = args.images.empty() ? load_embedding_set(args.queries)
                                                   : embed_query_images(args.images, database.meta, args.checkpoint);
  const int64_t count = args.first > 0 ? std::min<int64_t>(args.first, queries.embeddings.rows) : queries.embeddings.rows;
  auto index = search::make_index(args.index, parse_device(args.device), search::parse_metric(args.metric));
  args.parameters.apply(*index);
  const at::Tensor vectors = embeddings_tensor(database);
  if (index->needs_training()) index->train(vectors);
  index->add(vectors);
  const search::SearchResult result = index->search(embeddings_tensor(queries).narrow(0, 0, count), args.k);
  print_search_results(result, queries.items, count, database.items, args.json);
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
  command->add_option("--index", args->index, "exact, exact:cosine or faiss:<index_factory string>, built on the fly "
                                              "(imret index build saves one)")
      ->capture_default_str();
  command->add_option("--metric", args->metric, "euclidean or cosine")->capture_default_str();
  command->add_option("--device", args->device, "cpu, cuda or cuda:N (exact index)")->capture_default_str();
  args->parameters.add_options(*command);
  command->add_flag("--json", args->json, "JSON instead of a table");
  command->callback([args] { run_search(*args); });
}

}  // namespace imret::cli
