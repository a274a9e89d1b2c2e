// imret evaluate: retrieval metrics of query embeddings against a database.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/cli/queries.hpp"
#include "imret/cli/run_printing.hpp"
#include "imret/pipeline/evaluate_job.hpp"
#include "imret/pipeline/networks.hpp"

namespace imret::cli {
namespace {

struct EvaluateArgs {
  std::string queries;
  std::string database;
  std::string out;
  std::string metric = "euclidean";
  std::string ks = "1,5,10";
  int64_t knn = 5;
  bool exclude_self = false;
  std::string device = "cpu";
  std::string relevance = "auto";
  double weighted_threshold = 0.5;
  bool drop_nonfinite = false;
  std::vector<std::string> rerank;
  int64_t rerank_depth = 100;
};

void run_evaluate(const EvaluateArgs& args) {
  pipeline::EvaluationRequest request;
  request.metric = search::parse_metric(args.metric);
  request.metric_options.ks = parse_ks(args.ks, "--k");
  request.exclude_self = args.exclude_self;
  request.knn_k = args.knn;
  request.device = args.device;
  request.relevance = args.relevance;
  request.weighted_threshold = args.weighted_threshold;
  request.rerank = args.rerank;
  request.rerank_depth = args.rerank_depth;
  EmbeddingSet queries = load_embedding_set(args.queries, {args.drop_nonfinite});
  const EmbeddingSet database =
      args.database == args.queries ? queries : load_embedding_set(args.database, {args.drop_nonfinite});
  pipeline::match_database_whitening(queries, database.meta, args.queries);
  const pipeline::EvaluationOutcome outcome = pipeline::evaluate_to_folder(queries, database, request, args.out);
  print_metrics(outcome);
  std::printf("wrote %s/metrics.json and %s/pr_curve.csv\n", args.out.c_str(), args.out.c_str());
}

}  // namespace

void add_evaluate_command(CLI::App& app) {
  auto args = std::make_shared<EvaluateArgs>();
  CLI::App* command = app.add_subcommand("evaluate", "Retrieval metrics (mAP, P@K, R@K, mAP@R, MRR, PR curve, k-NN; nDCG and the COCO object modes)");
  command->add_option("-q,--queries", args->queries, "Query embedding folder (from imret embed)")->required();
  command->add_option("-d,--database", args->database, "Database embedding folder")->required();
  command->add_option("-o,--out", args->out, "Folder for metrics.json and pr_curve.csv")->required();
  command->add_option("--metric", args->metric, "euclidean or cosine")->capture_default_str();
  command->add_option("--k", args->ks, "Cut-offs for P@K, R@K, hit rate@K")->capture_default_str();
  command->add_option("--knn", args->knn, "k of the k-NN classification (0: none)")->capture_default_str();
  command->add_flag("--exclude-self", args->exclude_self,
                    "Queries are the database: ignore each query's own row");
  command->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_flag("--drop-nonfinite", args->drop_nonfinite,
                    "Leave out embeddings with NaN or infinite values (default: refuse them)");
  command->add_option("--relevance", args->relevance,
                      "auto (same class; for COCO items the three object modes), same-class, or the object mode "
                      "reported first: selection (a class in common), aggregation (the same classes), weighted "
                      "(similar counts)")
      ->check(CLI::IsMember({"auto", "same-class", "selection", "aggregation", "weighted"}))
      ->capture_default_str();
  command->add_option("--weighted-threshold", args->weighted_threshold,
                      "Weighted mode: relevant when the count overlap (intersection over union) is at least this")
      ->capture_default_str();
  add_rerank_options(*command, args->rerank, args->rerank_depth, true);
  command->callback([args] { run_evaluate(*args); });
}

}  // namespace imret::cli
