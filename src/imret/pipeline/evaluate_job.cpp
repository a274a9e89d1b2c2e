#include "imret/pipeline/evaluate_job.hpp"

#include <torch/torch.h>

#include "imret/core/atomic_file.hpp"
#include "imret/core/embedding_tensor.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "imret/core/runtime.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/eval/evaluate.hpp"
#include "imret/eval/knn.hpp"
#include "imret/eval/relevance.hpp"
#include "imret/pipeline/rerank_comparison.hpp"
#include "imret/rerank/plan.hpp"
#include "imret/search/exact_index.hpp"
#include "imret/search/self_match.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

namespace {

void check_compatible(const EmbeddingSet& queries, const EmbeddingSet& database) {
  if (queries.embeddings.cols != database.embeddings.cols)
    throw UsageError("queries have " + std::to_string(queries.embeddings.cols) + "-d embeddings, the database " +
                     std::to_string(database.embeddings.cols) + "-d");
  if (database.items.empty()) throw UsageError("the database is empty");
  if (queries.items.empty()) throw UsageError("there are no queries");
}

// The class names of the labels used by either set.
std::vector<std::string> class_names(const EmbeddingSet& queries, const EmbeddingSet& database) {
  int64_t num_classes = 0;
  for (const auto* set : {&queries, &database})
    for (const auto& item : set->items) num_classes = std::max(num_classes, item.label + 1);
  std::vector<std::string> classes(static_cast<size_t>(num_classes));
  for (const auto* set : {&database, &queries})
    for (const auto& item : set->items) classes[static_cast<size_t>(item.label)] = item.class_name;
  return classes;
}

nlohmann::json knn_report(const EmbeddingSet& queries, const EmbeddingSet& database, const at::Tensor& query_tensor,
                          const at::Tensor& database_tensor, const EvaluationRequest& request, c10::Device device) {
  search::ExactIndex index(request.metric, device);
  index.add(database_tensor);
  search::SearchResult neighbours;
  if (request.exclude_self) {
    std::vector<int64_t> own_rows(static_cast<size_t>(query_tensor.size(0)));
    for (size_t q = 0; q < own_rows.size(); ++q) own_rows[q] = static_cast<int64_t>(q);
    neighbours = search::search_without_self(index, query_tensor, own_rows, request.knn_k);
  } else {
    neighbours = index.search(query_tensor, request.knn_k);
  }
  const std::vector<std::string> classes = class_names(queries, database);
  return eval::knn_classify(neighbours, database.labels(), queries.labels(), request.knn_k,
                            static_cast<int64_t>(classes.size()))
      .to_json(classes);
}

// The re-ranking comparison, when asked for: into metrics and rerank.md;
// its table for the terminal ("" when none).
std::string compare_rerank(const at::Tensor& queries, const at::Tensor& database, const eval::Relevance& relevance,
                           const eval::MetricOptions& options, const eval::Summary& plain,
                           const EvaluationRequest& request, c10::Device device, nlohmann::json& metrics,
                           const fs::path& out) {
  if (request.rerank.empty()) {
    std::error_code ignored;
    fs::remove(out / "rerank.md", ignored);  // an earlier evaluation's
    return "";
  }
  const std::vector<RerankRow> rows =
      compare_rerankings(queries, database, request.metric, relevance, options, plain, request.rerank,
                         request.rerank_depth, device);
  metrics["rerank_depth"] = request.rerank_depth;
  metrics["rerank"] = rerank_json(rows);
  write_file_atomic(out / "rerank.md", rerank_markdown(rows));
  return "\nre-ranking (shortlist depth " + std::to_string(request.rerank_depth) + "):\n" + rerank_table(rows);
}

nlohmann::json common_fields(const EmbeddingSet& queries, const EmbeddingSet& database,
                             const EvaluationRequest& request) {
  return {{"metric", search::to_string(request.metric)},
          {"queries", queries.items.size()},
          {"database", database.items.size()},
          {"exclude_self", request.exclude_self}};
}

EvaluationOutcome evaluate_same_class(const EmbeddingSet& queries, const EmbeddingSet& database,
                                      const EvaluationRequest& request, const fs::path& out) {
  for (const auto* set : {&queries, &database})
    for (const auto& item : set->items)
      if (item.label < 0)
        throw UsageError("item " + item.source + " has no label: relevance 'same class' needs labelled items");
  const c10::Device device = parse_device(request.device);
  const at::Tensor query_tensor = embeddings_tensor(queries);
  const at::Tensor database_tensor = embeddings_tensor(database);
  eval::SameClassRelevance relevance(queries.labels(), database.labels(), request.exclude_self);
  eval::RetrievalEvaluation evaluation = eval::evaluate_retrieval(query_tensor, database_tensor, request.metric, relevance,
                                                                  request.metric_options, false, device);
  nlohmann::json metrics = common_fields(queries, database, request);
  metrics["relevance"] = "same class";
  metrics["retrieval"] = evaluation.summary.to_json();
  if (request.knn_k > 0)
    metrics["knn"] = knn_report(queries, database, query_tensor, database_tensor, request, device);
  const std::string rerank_text =
      compare_rerank(query_tensor, database_tensor, relevance, request.metric_options, evaluation.summary, request,
                     device, metrics, out);
  // metrics.json last: it is the record that the evaluation finished.
  eval::write_pr_curve_csv(out / "pr_curve.csv", evaluation.summary);
  for (const char* mode : {"selection", "aggregation", "weighted"}) {  // an earlier object-mode evaluation's
    std::error_code ignored;
    fs::remove(out / ("pr_curve_" + std::string(mode) + ".csv"), ignored);
  }
  write_file_atomic(out / "metrics.json", dump_json(metrics, 2) + "\n");
  return {metrics, evaluation.summary.to_table() + rerank_text};
}

// Multi-label items: one ranking graded in the three object modes.
EvaluationOutcome evaluate_object_modes(const EmbeddingSet& queries, const EmbeddingSet& database,
                                        const EvaluationRequest& request, const fs::path& out) {
  const eval::ObjectRelevanceMode primary =
      eval::parse_object_relevance_mode(request.relevance == "auto" ? "selection" : request.relevance);
  const std::vector<eval::ObjectRelevanceMode> modes = {
      eval::ObjectRelevanceMode::Selection, eval::ObjectRelevanceMode::Aggregation, eval::ObjectRelevanceMode::Weighted};
  const std::vector<ObjectCounts> query_objects = queries.all_objects();
  const std::vector<ObjectCounts> database_objects = database.all_objects();
  std::vector<eval::ObjectRelevance> relevances;
  relevances.reserve(modes.size());
  std::vector<const eval::Relevance*> graders;
  for (eval::ObjectRelevanceMode mode : modes) {
    relevances.emplace_back(query_objects, database_objects, mode, request.exclude_self, request.weighted_threshold);
    graders.push_back(&relevances.back());
  }
  eval::MetricOptions options = request.metric_options;
  if (options.ndcg_ks.empty()) options.ndcg_ks = options.ks;
  options.graded_ap = true;
  const c10::Device device = parse_device(request.device);
  const at::Tensor query_tensor = embeddings_tensor(queries);
  const at::Tensor database_tensor = embeddings_tensor(database);
  const std::vector<eval::RetrievalEvaluation> evaluations =
      eval::evaluate_retrieval_modes(query_tensor, database_tensor, request.metric, graders, options, false, device);

  nlohmann::json metrics = common_fields(queries, database, request);
  metrics["relevance"] = "objects: " + eval::to_string(primary);
  metrics["weighted_threshold"] = request.weighted_threshold;
  std::vector<std::pair<std::string, eval::Summary>> columns;
  for (size_t m = 0; m < modes.size(); ++m) {
    const std::string name = eval::to_string(modes[m]);
    metrics["modes"][name] = evaluations[m].summary.to_json();
    columns.emplace_back(name, evaluations[m].summary);
    eval::write_pr_curve_csv(out / ("pr_curve_" + name + ".csv"), evaluations[m].summary);
    if (modes[m] == primary) {
      metrics["retrieval"] = evaluations[m].summary.to_json();
      eval::write_pr_curve_csv(out / "pr_curve.csv", evaluations[m].summary);
    }
  }
  const size_t primary_at = static_cast<size_t>(std::find(modes.begin(), modes.end(), primary) - modes.begin());
  const std::string rerank_text =
      compare_rerank(query_tensor, database_tensor, relevances[primary_at], options, evaluations[primary_at].summary,
                     request, device, metrics, out);
  write_file_atomic(out / "metrics.json", dump_json(metrics, 2) + "\n");
  return {metrics, eval::modes_table(columns) + rerank_text};
}

}  // namespace

EvaluationOutcome evaluate_to_folder(const EmbeddingSet& queries, const EmbeddingSet& database,
                                     const EvaluationRequest& request, const fs::path& out) {
  check_compatible(queries, database);
  for (const std::string& spec : request.rerank) rerank::Plan(spec, request.rerank_depth);  // errors before any work
  if (request.relevance != "auto" && request.relevance != "same-class") eval::parse_object_relevance_mode(request.relevance);
  const bool objects = queries.has_objects() || database.has_objects();
  if (request.relevance == "same-class" || (request.relevance == "auto" && !objects))
    return evaluate_same_class(queries, database, request, out);
  if (!objects)
    throw SettingError("relevance", " " + request.relevance +
                                        " grades images by their objects, but these items have none (COCO data has "
                                        "them); use same-class or auto");
  return evaluate_object_modes(queries, database, request, out);
}

}  // namespace imret::pipeline
