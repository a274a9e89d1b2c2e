#include "imret/cli/queries.hpp"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "imret/core/error.hpp"

namespace imret::cli {
namespace {

void print_hits(const std::vector<pipeline::QueryHits>& queries, search::Metric metric, bool with_counts) {
  for (const pipeline::QueryHits& query : queries) {
    std::printf("query %lld  %s  [%s]\n", static_cast<long long>(query.query), query.item->source.c_str(),
                query.item->class_name.c_str());
    if (with_counts) std::printf("  %zu within the radius\n", query.hits.size());
    for (const pipeline::Hit& hit : query.hits) {
      std::printf("  %2lld  %s %-10.4f ", static_cast<long long>(hit.rank), pipeline::score_name(metric), hit.score);
      if (hit.rerank_score) std::printf("rerank %-10.4g ", *hit.rerank_score);
      std::printf("%s %-14s %s\n", hit.same_class ? "+" : "-", ("[" + hit.item->class_name + "]").c_str(),
                  hit.item->source.c_str());
    }
  }
}

void print(const std::vector<pipeline::QueryHits>& queries, search::Metric metric, bool json, bool with_counts) {
  if (json) std::printf("%s\n", pipeline::hits_json(queries, metric).dump(2).c_str());
  else print_hits(queries, metric, with_counts);
}

}  // namespace

void QueryArgs::add_options(CLI::App& command, const std::string& image_help, const std::string& checkpoint_help) {
  command.add_option("-q,--queries", source.folder, "Query embedding folder");
  command.add_option("--image", source.images, image_help);
  command.add_option("-c,--checkpoint", source.checkpoint, checkpoint_help);
  command.add_option("--first", first, "Search only the first N queries (0: all)")->capture_default_str();
  command.add_option("-k,--k", k, "Results per query")->capture_default_str();
  command.add_flag("--json", json, "JSON instead of a table");
}

EmbeddingSet QueryArgs::load(const nlohmann::json& database_meta) const {
  if (source.folder.empty() == source.images.empty())
    throw UsageError("give either --queries (an embedding folder) or --image (image files)");
  if (k < 1) throw UsageError("--k must be at least 1");
  if (!source.images.empty() && source.checkpoint.empty() && !database_meta.contains("checkpoint") &&
      !database_meta.contains("weights") && !database_meta.contains("model"))
    throw UsageError("--image needs --checkpoint: the database's meta.json does not name the network it came from");
  return pipeline::load_queries(source, database_meta);
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

search::SearchParams QueryParameterArgs::parameters() const {
  if (nprobe < 0 || ef_search < 0) throw UsageError("--nprobe and --ef-search must be positive");
  search::SearchParams out;
  if (nprobe > 0) out.set("nprobe", static_cast<double>(nprobe));
  if (ef_search > 0) out.set("efSearch", static_cast<double>(ef_search));
  for (const auto& param : params) {
    try {
      const auto [name, value] = search::parse_search_parameter(param);
      out.set(name, value);
    } catch (const UsageError&) {
      throw UsageError("--param " + param + ": expected name=number, e.g. nprobe=16");
    }
  }
  return out;
}

void add_rerank_options(CLI::App& command, std::vector<std::string>& specs, int64_t& depth, bool several) {
  const std::string methods =
      "aqe[:k=2,alpha=3] (query expansion), dba[:k=5,alpha=3] (database augmentation), "
      "kreciprocal[:k1=20,k2=6,lambda=0.3], diffusion[:k=50,kq=10,alpha=0.99,gamma=3,iterations=20]; "
      "chain with '+' (dba+aqe); docs/rerank.md";
  CLI::Option* option = command.add_option(
      "--rerank", specs,
      several ? "Re-ranking methods to compare with the plain ranking, each a spec: " + methods
              : "Re-rank each query's shortlist: none or " + methods);
  if (!several) option->expected(1);
  command.add_option("--rerank-depth", depth, "Shortlist re-ranked per query (the top this many)")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
}

void note_k_above_database(int64_t k, int64_t database_items) {
  if (k > database_items)
    spdlog::warn("k {} is more than the {} database items: each query gets at most {}", k, database_items,
                 database_items);
}

void print_search_results(const search::SearchResult& result, const std::vector<EmbeddedItem>& queries, int64_t count,
                          const std::vector<EmbeddedItem>& database, bool json, const at::Tensor& rerank_scores) {
  note_k_above_database(result.ids.size(1), static_cast<int64_t>(database.size()));
  print(pipeline::top_k_hits(result, queries, count, database, rerank_scores), result.metric, json, false);
}

void print_range_results(const search::RangeResult& result, const std::vector<EmbeddedItem>& queries,
                         const std::vector<EmbeddedItem>& database, bool json) {
  print(pipeline::range_hits(result, queries, database), result.metric, json, true);
}

}  // namespace imret::cli
