#include "imret/cli/pipeline.hpp"

#include <torch/torch.h>

#include <cstdio>

#include "imret/cli/common.hpp"
#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/runtime.hpp"
#include "imret/eval/evaluate.hpp"
#include "imret/eval/knn.hpp"
#include "imret/eval/relevance.hpp"
#include "imret/search/exact_index.hpp"

namespace imret::cli {
namespace fs = std::filesystem;

int64_t embed_to_folder(const models::LoadedNetwork& loaded, std::shared_ptr<const data::Dataset> dataset,
                        const nlohmann::json& meta_in, const models::EmbedOptions& options, const fs::path& folder,
                        const std::vector<fs::path>& inputs) {
  if (dataset->channels() != loaded.info.spec.in_channels)
    throw UsageError(loaded.info.spec.arch + ": the network takes " + std::to_string(loaded.info.spec.in_channels) +
                     "-channel images but the data has " + std::to_string(dataset->channels()) + " channels");
  // Before the (long) embedding: a folder that may not be written, or that another imret writes, fails first.
  OutputFolder out(folder, embedding_folder_rules("embed", inputs));
  auto transform = data::make_eval_transform(data::Preprocess::from_json(loaded.info.preprocess));
  auto bad_images = std::make_shared<data::BadImageLog>();
  models::Embeddings embedded = models::embed_dataset(*loaded.network, dataset, transform, options, bad_images);
  std::vector<EmbeddedItem> items;
  items.reserve(embedded.indices.size());
  for (int64_t index : embedded.indices) {
    const int64_t label = dataset->label(index);
    EmbeddedItem item{index, dataset->source(index), label,
                      label >= 0 ? dataset->classes().at(static_cast<size_t>(label)) : std::string(), std::nullopt};
    if (dataset->has_objects()) item.objects = dataset->objects(index);
    items.push_back(std::move(item));
  }
  if (items.empty())
    throw Error("no image of " + std::to_string(dataset->size()) + " could be embedded (" +
                std::to_string(bad_images->count()) + " bad images): nothing written to " + folder.string());
  const float* values = embedded.values.data_ptr<float>();
  const int64_t cols = embedded.values.size(1);
  const int64_t bad_row = first_nonfinite_row(values, embedded.values.size(0), cols);
  if (bad_row >= 0)
    throw Error(items[static_cast<size_t>(bad_row)].source + ": the network gives NaN or infinite embeddings (the "
                "checkpoint is broken: did training diverge?); nothing written to " + folder.string());
  nlohmann::json bad = nlohmann::json::array();
  for (const auto& [path, reason] : bad_images->entries()) {
    nlohmann::json entry;
    put_text(entry, "path", path);
    entry["reason"] = reason;
    bad.push_back(std::move(entry));
  }
  nlohmann::json meta = meta_in;
  meta["network"] = loaded.info.spec.to_json();
  meta["preprocess"] = loaded.info.preprocess;
  meta["classes"] = dataset->classes();
  meta["bad_images"] = bad;
  write_embedding_files(out.path(), values, embedded.values.size(0), cols, items, meta);
  out.publish({{"count", items.size()}, {"dimension", cols}});
  return static_cast<int64_t>(items.size());
}

namespace {

void check_compatible(const EmbeddingSet& queries, const EmbeddingSet& database) {
  if (queries.embeddings.cols != database.embeddings.cols)
    throw UsageError("queries have " + std::to_string(queries.embeddings.cols) + "-d embeddings, the database " +
                     std::to_string(database.embeddings.cols) + "-d");
  if (database.items.empty()) throw UsageError("the database is empty");
  if (queries.items.empty()) throw UsageError("there are no queries");
}

nlohmann::json knn_report(const EmbeddingSet& queries, const EmbeddingSet& database, const at::Tensor& query_tensor,
                          const at::Tensor& database_tensor, const EvaluationRequest& request, c10::Device device) {
  search::ExactIndex index(request.metric, device);
  index.add(database_tensor);
  const search::SearchResult neighbours = index.search(query_tensor, request.knn_k + (request.exclude_self ? 1 : 0));
  search::SearchResult used = neighbours;
  if (request.exclude_self) {
    // Drop each query's own row from its neighbour list.
    std::vector<at::Tensor> id_rows, score_rows;
    auto ids = neighbours.ids.accessor<int64_t, 2>();
    for (int64_t q = 0; q < neighbours.ids.size(0); ++q) {
      std::vector<int64_t> keep;
      for (int64_t j = 0; j < neighbours.ids.size(1) && static_cast<int64_t>(keep.size()) < request.knn_k; ++j)
        if (ids[q][j] != q) keep.push_back(j);
      at::Tensor columns = torch::tensor(keep, torch::kLong);
      id_rows.push_back(neighbours.ids[q].index_select(0, columns));
      score_rows.push_back(neighbours.scores[q].index_select(0, columns));
    }
    used.ids = torch::stack(id_rows);
    used.scores = torch::stack(score_rows);
  }
  std::vector<std::string> classes;
  int64_t num_classes = 0;
  for (const auto* set : {&queries, &database})
    for (const auto& item : set->items) num_classes = std::max(num_classes, item.label + 1);
  classes.resize(static_cast<size_t>(num_classes));
  for (const auto* set : {&database, &queries})
    for (const auto& item : set->items) classes[static_cast<size_t>(item.label)] = item.class_name;
  return eval::knn_classify(used, database.labels(), queries.labels(), request.knn_k, num_classes).to_json(classes);
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
  // metrics.json last: it is the record that the evaluation finished.
  eval::write_pr_curve_csv(out / "pr_curve.csv", evaluation.summary);
  for (const char* mode : {"selection", "aggregation", "weighted"}) {  // an earlier object-mode evaluation's
    std::error_code ignored;
    fs::remove(out / ("pr_curve_" + std::string(mode) + ".csv"), ignored);
  }
  write_file_atomic(out / "metrics.json", dump_json(metrics, 2) + "\n");
  return {metrics, evaluation.summary.to_table()};
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
  const std::vector<eval::RetrievalEvaluation> evaluations = eval::evaluate_retrieval_modes(
      embeddings_tensor(queries), embeddings_tensor(database), request.metric, graders, options, false, device);

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
  write_file_atomic(out / "metrics.json", dump_json(metrics, 2) + "\n");
  return {metrics, eval::modes_table(columns)};
}

}  // namespace

EvaluationOutcome evaluate_to_folder(const EmbeddingSet& queries, const EmbeddingSet& database,
                                     const EvaluationRequest& request, const fs::path& out) {
  check_compatible(queries, database);
  if (request.relevance != "auto" && request.relevance != "same-class") eval::parse_object_relevance_mode(request.relevance);
  const bool objects = queries.has_objects() || database.has_objects();
  if (request.relevance == "same-class" || (request.relevance == "auto" && !objects))
    return evaluate_same_class(queries, database, request, out);
  if (!objects)
    throw UsageError("--relevance " + request.relevance +
                     " grades images by their objects, but these items have none (COCO data has them); use "
                     "same-class or auto");
  return evaluate_object_modes(queries, database, request, out);
}

void print_metrics(const EvaluationOutcome& outcome) {
  const nlohmann::json& metrics = outcome.metrics;
  std::printf("%s", outcome.table.c_str());
  if (metrics.contains("knn"))
    std::printf("k-NN (k=%lld) accuracy: %.4f\n", static_cast<long long>(metrics["knn"].value("k", 0)),
                metrics["knn"].value("accuracy", 0.0));
}

std::shared_ptr<const data::Dataset> stratified_part(std::shared_ptr<const data::Dataset> dataset, int64_t count,
                                                     uint64_t seed) {
  if (count <= 0 || count >= dataset->size()) return dataset;
  const double dropped = 1.0 - static_cast<double>(count) / static_cast<double>(dataset->size());
  return data::subset(dataset, data::stratified_split(*dataset, dropped, seed).first);
}

RetrievalRun train_embed_evaluate(const learn::TrainConfig& config, const RetrievalRunRequest& request,
                                  const fs::path& run_dir, const fs::path& final_run_dir) {
  RetrievalRun run;
  std::printf("== 1/3 train: %s, method %s, %lld epochs ==\n", config.network.arch.c_str(), config.method.c_str(),
              static_cast<long long>(config.epochs));
  run.trained = learn::train_embedding(config, request.train_set, run_dir);
  const fs::path checkpoint = run.trained.best_checkpoint;  // where it is now
  // Reported where the run will be once its folder is published.
  run.trained.last_checkpoint = final_run_dir / "checkpoints" / run.trained.last_checkpoint.filename();
  run.trained.best_checkpoint = final_run_dir / "checkpoints" / checkpoint.filename();
  print_training_summary(run.trained, final_run_dir);

  const std::string database_split = request.database_split.empty() ? request.train_split : request.database_split;
  const auto database_set = request.database_set ? request.database_set : request.train_set;
  std::printf("\n== 2/3 embed: database = %s split, queries = %s split ==\n", database_split.c_str(),
              request.query_split.c_str());
  models::LoadedNetwork loaded = models::load_checkpoint(checkpoint);
  const fs::path recorded_checkpoint = run.trained.best_checkpoint;
  models::EmbedOptions options;
  options.batch_size = 512;
  options.workers = config.workers;
  options.device = parse_device(config.device);
  const std::string checkpoint_path = fs::absolute(recorded_checkpoint).lexically_normal().string();
  options.label = "embed database";
  embed_to_folder(loaded, stratified_part(database_set, request.database_limit, config.seed),
                  {{"data", request.data}, {"split", database_split}, {"checkpoint", checkpoint_path}}, options,
                  run_dir / "embeddings" / "database", {request.data});
  options.label = "embed queries";
  embed_to_folder(loaded, stratified_part(request.query_set, request.query_limit, config.seed),
                  {{"data", request.data}, {"split", request.query_split}, {"checkpoint", checkpoint_path}}, options,
                  run_dir / "embeddings" / "queries", {request.data});

  std::printf("\n== 3/3 evaluate: every query against the whole database (full ranking, %s) ==\n",
              search::to_string(request.metric).c_str());
  EvaluationRequest evaluation;
  evaluation.metric = request.metric;
  evaluation.device = config.device;
  const EmbeddingSet database = load_embedding_set(run_dir / "embeddings" / "database");
  const EmbeddingSet queries = load_embedding_set(run_dir / "embeddings" / "queries");
  run.evaluation = evaluate_to_folder(queries, database, evaluation, run_dir);
  print_metrics(run.evaluation);
  return run;
}

}  // namespace imret::cli
