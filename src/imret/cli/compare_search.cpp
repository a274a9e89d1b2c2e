// imret compare-search: one set of embeddings, every backend in a list, one
// table (build time, memory, queries/s, recall against exact, mAP@k, P@1,
// P@5, k-NN accuracy), printed and written as results.md/.csv/.json.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/core/embedding_tensor.hpp"
#include "imret/cli/queries.hpp"
#include "imret/core/error.hpp"
#include "imret/eval/search_comparison.hpp"
#include "imret/pipeline/networks.hpp"

namespace imret::cli {
namespace {

struct CompareSearchArgs {
  std::string database;
  std::string queries;
  std::vector<std::string> indexes = {"exact", "faiss:Flat", "faiss:IVF256,Flat@nprobe=8", "faiss:HNSW32@efSearch=64"};
  std::string out;
  std::string metric = "euclidean";
  std::string title = "Search backends";
  int64_t k = 100;
  int64_t knn = 10;
  std::string knn_vote = "majority";
  int64_t train_size = 0;
  uint64_t seed = 0;
  std::vector<std::string> rerank;
  int64_t rerank_depth = 100;
};

void run_compare_search(const CompareSearchArgs& args) {
  const EmbeddingSet database = load_embedding_set(args.database);
  EmbeddingSet queries = load_embedding_set(args.queries);
  pipeline::match_database_whitening(queries, database.meta, args.queries);
  if (queries.embeddings.cols != database.embeddings.cols)
    throw UsageError("queries have " + std::to_string(queries.embeddings.cols) + "-d embeddings, the database " +
                     std::to_string(database.embeddings.cols) + "-d");
  if (database.items.empty() || queries.items.empty()) throw UsageError("the database or the queries are empty");
  eval::SearchComparisonOptions options;
  options.k = args.k;
  options.knn_k = args.knn;
  if (args.knn_vote != "majority" && args.knn_vote != "distance")
    throw UsageError("--knn-vote: majority or distance (got '" + args.knn_vote + "')");
  options.knn_distance_weighted = args.knn_vote == "distance";
  options.train_size = args.train_size;
  options.seed = args.seed;
  options.metric = search::parse_metric(args.metric);
  options.rerank = args.rerank;
  options.rerank_depth = args.rerank_depth;
  note_k_above_database(args.k, static_cast<int64_t>(database.items.size()));
  const auto rows = eval::compare_search_backends(args.indexes, embeddings_tensor(database), database.labels(),
                                                  embeddings_tensor(queries), queries.labels(), options);
  std::printf("\n%s", eval::search_comparison_markdown(args.title, rows).c_str());
  if (!args.out.empty()) {
    const nlohmann::json setup = {{"database", args.database},       {"queries", args.queries},
                                  {"database_size", database.items.size()}, {"query_count", queries.items.size()},
                                  {"dimension", database.embeddings.cols},  {"metric", args.metric},
                                  {"k", args.k},                     {"knn", args.knn}, {"knn_vote", args.knn_vote},
                                  {"train_size", args.train_size},   {"seed", args.seed},
                                  {"rerank", args.rerank},           {"rerank_depth", args.rerank_depth}};
    eval::write_search_comparison(args.out, args.title, rows, setup);
    std::printf("\nwrote %s/results.md, results.csv and results.json\n", args.out.c_str());
  }
}

}  // namespace

void add_compare_search_command(CLI::App& app) {
  auto args = std::make_shared<CompareSearchArgs>();
  CLI::App* command = app.add_subcommand(
      "compare-search", "Compare search backends on one set of embeddings: speed, memory, recall, mAP, k-NN");
  command->add_option("-d,--database", args->database, "Database embedding folder")->required();
  command->add_option("-q,--queries", args->queries, "Query embedding folder")->required();
  command
      ->add_option("--index", args->indexes,
                   "A backend, repeatable: exact, exact:cosine or faiss:<index_factory string>, with query-time "
                   "parameters after @ (faiss:IVF1024,Flat@nprobe=16, faiss:HNSW32@efSearch=128)")
      ->capture_default_str();
  command->add_option("-o,--out", args->out, "Folder for results.md, results.csv and results.json");
  command->add_option("--metric", args->metric, "euclidean or cosine")->capture_default_str();
  command->add_option("-k,--k", args->k, "Results per query: the timed search and mAP@k")->capture_default_str();
  command->add_option("--knn", args->knn, "k of the k-NN classification")->capture_default_str();
  command->add_option("--knn-vote", args->knn_vote, "majority, or distance (votes weighted by 1 / distance)")
      ->capture_default_str();
  command->add_option("--train-size", args->train_size, "Train IVF/PQ indexes on this many random vectors (0: all)")
      ->capture_default_str();
  command->add_option("--seed", args->seed, "Seed of the training sample")->capture_default_str();
  command->add_option("--title", args->title, "Title of the table")->capture_default_str();
  add_rerank_options(*command, args->rerank, args->rerank_depth, true);
  command->callback([args] { run_compare_search(*args); });
}

}  // namespace imret::cli
