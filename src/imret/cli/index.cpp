// imret index build|info|search|add: indexes saved to a folder (manifest.json,
// the index file, items.jsonl), searched later without rebuilding them.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "imret/cli/commands.hpp"
#include "imret/cli/queries.hpp"
#include "imret/core/embedding_tensor.hpp"
#include "imret/core/error.hpp"
#include "imret/pipeline/index_jobs.hpp"
#include "imret/rerank/plan.hpp"
#include "imret/search/index_store.hpp"

namespace imret::cli {
namespace {

std::string megabytes(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

void print_info(const search::StoredIndex& stored, const std::filesystem::path& folder) {
  const search::IndexManifest& m = stored.manifest;
  std::printf("index      %s\n", folder.string().c_str());
  std::printf("backend    %s\n", stored.index->describe().c_str());
  std::printf("metric     %s\n", search::to_string(m.metric).c_str());
  std::printf("vectors    %lld x %lld\n", static_cast<long long>(m.count), static_cast<long long>(m.dimension));
  std::printf("memory     %s\n", megabytes(stored.index->memory_bytes()).c_str());
  if (m.trained_on > 0) std::printf("trained on %lld vectors\n", static_cast<long long>(m.trained_on));
  for (const auto& [name, value] : m.parameters) std::printf("parameter  %s = %g\n", name.c_str(), value);
  for (const auto& source : m.sources) std::printf("source     %s\n", source.c_str());
  if (m.embedding_meta.contains("checkpoint"))
    std::printf("network    %s\n", m.embedding_meta.at("checkpoint").get<std::string>().c_str());
  std::printf("imret      %s\n", m.imret_version.c_str());
}

struct BuildArgs {
  std::string embeddings;
  std::string out;
  bool overwrite = false;
  bool drop_nonfinite = false;
  std::string index = "exact";
  std::string metric = "euclidean";
  int64_t train_size = 0;
  uint64_t seed = 0;
  int64_t shards = 1;
  QueryParameterArgs parameters;
  std::string augment;
};

void run_build(const BuildArgs& args) {
  pipeline::IndexBuildRequest request;
  request.embeddings = args.embeddings;
  request.spec = args.index;
  request.metric = search::parse_metric(args.metric);
  request.train_size = args.train_size;
  request.seed = args.seed;
  request.shards = args.shards;
  request.parameters = args.parameters.parameters();
  request.drop_nonfinite = args.drop_nonfinite;
  request.augment = args.augment;
  request.replace = args.overwrite;
  request.replace_hint = "pass --overwrite";
  const pipeline::IndexBuildOutcome outcome = pipeline::build_index_folder(request, args.out);
  const pipeline::IndexFill& fill = outcome.fill;
  if (fill.trained_on > 0) spdlog::info("trained {} on {} vectors in {:.2f} s", args.index, fill.trained_on, fill.train_seconds);
  spdlog::info("added {} vectors in {:.2f} s", fill.added, fill.add_seconds);
  spdlog::info("built {} in {:.2f} s -> {}", outcome.describe, outcome.seconds, args.out);
}

struct InfoArgs {
  std::string folder;
  bool json = false;
};

void run_info(const InfoArgs& args) {
  const search::StoredIndex stored = search::load_index_folder(args.folder);
  if (!args.json) return print_info(stored, args.folder);
  nlohmann::json out = stored.manifest.to_json();
  out["memory_bytes"] = stored.index->memory_bytes();
  out["describe"] = stored.index->describe();
  std::printf("%s\n", out.dump(2).c_str());
}

struct IndexSearchArgs {
  std::string folder;
  QueryArgs query;
  double radius = 0;
  bool range = false;
  QueryParameterArgs parameters;
  std::vector<std::string> rerank;
  int64_t rerank_depth = 100;
};

void run_index_search(const IndexSearchArgs& args) {
  rerank::Plan plan(args.rerank.empty() ? "none" : args.rerank.front(), args.rerank_depth);
  if (args.range && !plan.empty()) throw UsageError("--rerank works with top-k searches, not with --range");
  search::StoredIndex stored = search::load_index_folder(args.folder);
  pipeline::check_augmentation(args.folder, stored.manifest.augmentation, plan);
  const search::SearchParams params = args.parameters.parameters();  // this search only
  const EmbeddingSet queries = args.query.load(stored.manifest.embedding_meta);
  const int64_t count = args.query.count(queries);
  const at::Tensor query_vectors = embeddings_tensor(queries).narrow(0, 0, count);
  const bool json = args.query.json;
  if (args.range)
    print_range_results(stored.index->range_search(query_vectors, args.radius, params), queries.items, stored.items, json);
  else {
    plan.prepare(*stored.index);
    const rerank::RerankedResult found = plan.search(*stored.index, query_vectors, args.query.k, params);
    print_search_results(found.result, queries.items, count, stored.items, json, found.rerank_scores);
  }
}

struct AddArgs {
  std::string folder;
  std::string embeddings;
  bool drop_nonfinite = false;
};

void run_add(const AddArgs& args) {
  const pipeline::IndexAddOutcome outcome = pipeline::add_to_index_folder(args.folder, args.embeddings, args.drop_nonfinite);
  for (const auto& warning : outcome.warnings) spdlog::warn("{}", warning);
  spdlog::info("added {} vectors: {}", outcome.added, outcome.describe);
}

}  // namespace

void add_index_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("index", "Build, inspect, search and extend saved indexes (exact or FAISS)");
  command->require_subcommand(1);

  auto build = std::make_shared<BuildArgs>();
  CLI::App* build_command = command->add_subcommand("build", "Index an embedding folder and save it");
  build_command->add_option("embeddings", build->embeddings, "Embedding folder (from imret embed)")->required();
  build_command->add_option("-o,--out,--output", build->out, "Index folder to write")->required();
  build_command->add_flag("--overwrite", build->overwrite, "Replace an index already in --out");
  build_command->add_flag("--drop-nonfinite", build->drop_nonfinite,
                          "Leave out embeddings with NaN or infinite values (default: refuse them)");
  build_command
      ->add_option("--index", build->index,
                   "exact, exact:cosine or faiss:<index_factory string> (faiss:Flat, faiss:IVF1024,Flat, "
                   "faiss:IVF1024,PQ16, faiss:HNSW32, faiss:OPQ16,IVF256,PQ16...)")
      ->capture_default_str();
  build_command->add_option("--metric", build->metric, "euclidean or cosine (exact:<metric> specs name their own)")
      ->capture_default_str();
  build_command->add_option("--train-size", build->train_size,
                            "Train IVF/PQ indexes on this many random vectors (0: all)")
      ->capture_default_str();
  build_command->add_option("--seed", build->seed, "Seed of the training sample")->capture_default_str();
  build_command->add_option("--shards", build->shards,
                            "Split the index into this many shards (contiguous parts, one file each), searched "
                            "in parallel and merged as one")
      ->check(CLI::Range(int64_t{1}, int64_t{4096}))
      ->capture_default_str();
  build->parameters.add_options(*build_command);
  build_command->add_option("--rerank", build->augment,
                            "Database-side re-ranking applied to the vectors before they are indexed: dba[:k=5,alpha=3] "
                            "(search it with the same --rerank; docs/rerank.md)");
  build_command->callback([build] { run_build(*build); });

  auto info = std::make_shared<InfoArgs>();
  CLI::App* info_command = command->add_subcommand("info", "What a saved index holds (loads and checks it)");
  info_command->add_option("folder", info->folder, "Index folder")->required();
  info_command->add_flag("--json", info->json, "The manifest as JSON");
  info_command->callback([info] { run_info(*info); });

  auto search = std::make_shared<IndexSearchArgs>();
  CLI::App* search_command = command->add_subcommand("search", "Top-K (or range) search in a saved index");
  search_command->add_option("folder", search->folder, "Index folder")->required();
  search->query.add_options(*search_command, "Query image file(s), embedded with the index's network",
                            "Checkpoint for --image (default: the one the indexed embeddings came from)");
  search_command
      ->add_option_function<double>("--radius",
                                    [search](double r) {
                                      search->radius = r;
                                      search->range = true;
                                    },
                                    "Range search instead: every item at distance < R (cosine: similarity > R)");
  search->parameters.add_options(*search_command);
  add_rerank_options(*search_command, search->rerank, search->rerank_depth, false);
  search_command->callback([search] { run_index_search(*search); });

  auto add = std::make_shared<AddArgs>();
  CLI::App* add_command = command->add_subcommand("add", "Add the vectors of another embedding folder to a saved index");
  add_command->add_option("folder", add->folder, "Index folder")->required();
  add_command->add_option("embeddings", add->embeddings, "Embedding folder to add")->required();
  add_command->add_flag("--drop-nonfinite", add->drop_nonfinite,
                        "Leave out embeddings with NaN or infinite values (default: refuse them)");
  add_command->callback([add] { run_add(*add); });
}

}  // namespace imret::cli
