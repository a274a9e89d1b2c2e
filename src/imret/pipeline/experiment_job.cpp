#include "imret/pipeline/experiment_job.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/core/yaml.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/preprocess_defaults.hpp"
#include "imret/learn/objective.hpp"
#include "imret/learn/registry.hpp"
#include "imret/learn/run_folder.hpp"
#include "imret/eval/text_table.hpp"
#include "imret/pipeline/evaluate_job.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

namespace {

OutputRules experiment_folder_rules(const std::string& data) {
  OutputRules rules;
  rules.kind = "experiment";
  rules.command = "experiment";
  rules.inputs = {data};
  // Written before markers: the three tables and one run folder per row (each with its result.json).
  rules.legacy = [](const fs::path& folder) {
    std::error_code ec;
    if (!fs::exists(folder / "results.json", ec)) return false;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      const std::string name = entry.path().filename().string();
      if (name[0] == '.' || name == "results.md" || name == "results.csv" || name == "results.json") continue;
      if (!entry.is_directory(ec) || !fs::exists(entry.path() / "config.yaml", ec)) return false;
    }
    return true;
  };
  return rules;
}

// The datasets every row shares.
struct PlanData {
  std::shared_ptr<const data::Dataset> train, database, queries;
};

PlanData open_plan_data(const Plan& plan) {
  PlanData sets;
  sets.train = data::open_dataset(plan.data, plan.train_split);
  sets.queries = data::open_dataset(plan.data, plan.query_split, sets.train->classes());
  if (!plan.database_split.empty() && plan.database_split != plan.train_split)
    sets.database = data::open_dataset(plan.data, plan.database_split, sets.train->classes());
  return sets;
}

RetrievalRunRequest run_request(const Plan& plan, const PlanData& sets, const PlannedRow& row) {
  RetrievalRunRequest request;
  request.data = plan.data;
  request.train_set = sets.train;
  request.database_set = sets.database;
  request.query_set = sets.queries;
  request.train_split = plan.train_split;
  request.database_split = plan.database_split;
  request.query_split = plan.query_split;
  request.metric = row.metric;
  request.database_limit = plan.database_limit;
  request.query_limit = plan.query_limit;
  return request;
}

// The stored result of a row when its key is `key`.
std::optional<eval::ExperimentResult> stored_result(const fs::path& result_path, const nlohmann::json& key) {
  if (!fs::exists(result_path)) return std::nullopt;
  nlohmann::json stored;
  try {
    stored = nlohmann::json::parse(read_file(result_path));
  } catch (const nlohmann::json::exception& e) {
    throw Error(result_path.string() + ": not valid JSON (" + e.what() + "); delete it or run the row again");
  }
  if (stored.value("key", nlohmann::json()) != key) return std::nullopt;
  return eval::ExperimentResult::from_json(stored.at("result"));
}

// The table's distance and margin columns, which follow from the settings (not stored in result.json).
void describe_loss(eval::ExperimentResult& result, const learn::TrainConfig& config) {
  result.distance = learn::table_distance(config);
  result.margin = learn::table_margin(config);
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// The plan's re-rankings on one row's embeddings, into <row>/rerank/
// (evaluate_to_folder's metrics.json and rerank.md); reused when that
// folder holds the same key. Returns its "rerank" rows.
nlohmann::json rerank_row(const Plan& plan, const PlannedRow& row, const fs::path& run_dir) {
  const fs::path folder = run_dir / "rerank";
  const nlohmann::json key = {{"row", row_key(plan, row)}, {"rerank", plan.rerank}, {"depth", plan.rerank_depth}};
  std::error_code ec;
  if (fs::exists(folder / "metrics.json", ec)) {
    try {
      const nlohmann::json stored = nlohmann::json::parse(read_file(folder / "metrics.json"));
      if (stored.value("rerank_key", nlohmann::json()) == key) return stored.at("rerank");
    } catch (const nlohmann::json::exception&) {  // unreadable: computed again below
    }
  }
  const EmbeddingSet queries = load_embedding_set(run_dir / "embeddings" / "queries");
  const EmbeddingSet database = load_embedding_set(run_dir / "embeddings" / "database");
  EvaluationRequest request;
  request.metric = row.metric;
  request.metric_options.ks = {1, 10};
  request.knn_k = 0;
  request.rerank = plan.rerank;
  request.rerank_depth = plan.rerank_depth;
  fs::create_directories(folder);
  EvaluationOutcome outcome = evaluate_to_folder(queries, database, request, folder);
  outcome.metrics["rerank_key"] = key;
  write_file_atomic(folder / "metrics.json", dump_json(outcome.metrics, 2) + "\n");
  return outcome.metrics.at("rerank");
}

// rerank.md: every row's re-rankings, one line each.
void write_rerank_table(const fs::path& folder, const std::string& title,
                        const std::vector<std::pair<std::string, nlohmann::json>>& rows) {
  const auto number = [](const nlohmann::json& value, const char* format) {
    if (!value.is_number()) return std::string("-");
    char text[32];
    std::snprintf(text, sizeof text, format, value.get<double>());
    return std::string(text);
  };
  eval::TextCells cells = {{"experiment", "rerank", "mAP", "mAP@R", "P@1", "mAP change", "search ms/query"}};
  for (const auto& [name, reranks] : rows)
    for (const auto& r : reranks)
      cells.push_back({name, "`" + r.at("rerank").get<std::string>() + "`", number(r.at("mAP"), "%.4f"),
                       number(r.at("mAP@R"), "%.4f"), number(r.value("P@1", nlohmann::json()), "%.4f"),
                       eval::signed_change(r.at("mAP change").get<double>()), number(r.at("search ms/query"), "%.3f")});
  write_file_atomic(folder / "rerank.md", "## Re-ranking each row: " + title + "\n\n" + eval::markdown_table(cells));
}

}  // namespace

eval::ExperimentResult summarise(const PlannedRow& row, const RetrievalRun& run) {
  eval::ExperimentResult result;
  result.name = row.name;
  result.description = row.description;
  result.settings = row.config.to_json();
  result.miner = learn::effective_miner(row.config);
  describe_loss(result, row.config);
  result.metric = search::to_string(row.metric);
  result.retrieval = run.evaluation.metrics.at("retrieval");
  result.retrieval.erase("pr_curve");
  if (run.evaluation.metrics.contains("modes")) {
    result.modes = run.evaluation.metrics.at("modes");
    for (auto& [mode, summary] : result.modes.items()) summary.erase("pr_curve");
  }
  result.knn_accuracy =
      run.evaluation.metrics.contains("knn") ? run.evaluation.metrics["knn"].value("accuracy", NAN) : NAN;
  for (const auto& record : run.trained.history) {
    result.train_seconds += record.seconds;
    result.epochs_run = record.epoch;
  }
  if (!run.trained.history.empty()) {
    const auto& last = run.trained.history.back();
    result.images_per_second = last.images_per_second;
    result.tuples_per_batch = last.tuples_per_batch;
    result.nonzero_fraction = last.nonzero_fraction;
  }
  return result;
}

ExperimentOutcome run_experiment(const ExperimentRequest& request, RetrievalRunObserver& observer) {
  Plan plan = load_plan(request.plan);
  ExperimentOutcome outcome;
  outcome.title = plan.title;
  outcome.planned = plan.rows.size();
  outcome.folder = request.out.empty() ? fs::path(plan.out) : request.out;
  for (const auto& name : request.only)
    if (std::none_of(plan.rows.begin(), plan.rows.end(), [&](const PlannedRow& row) { return row.name == name; }))
      throw SettingError("only", " " + name + ": " + request.plan + " has no experiment of that name");
  const PlanData sets = open_plan_data(plan);
  // The experiment folder is written in place: its finished rows are kept when a later row fails or is stopped.
  WorkFolder work(outcome.folder, experiment_folder_rules(plan.data));
  const auto start = std::chrono::steady_clock::now();
  size_t number = 0;
  for (auto& row : plan.rows) {
    ++number;
    const fs::path run_dir = outcome.folder / row.name;
    const bool selected = request.only.empty() || contains(request.only, row.name);
    if (!row.preprocess_given) row.config.preprocess = data::PreprocessChoice{}.resolve(sets.train->channels());
    const nlohmann::json key = row_key(plan, row);
    if (!(request.rerun && selected))
      if (auto stored = stored_result(run_dir / "result.json", key)) {
        observer.row_reused(number, plan.rows.size(), row, run_dir / "result.json");
        describe_loss(*stored, row.config);
        outcome.results.push_back(std::move(*stored));
        continue;
      }
    if (!selected) continue;
    observer.row_started(number, plan.rows.size(), row);
    // Each row's run is built aside and swapped in whole when it is complete.
    OutputFolder row_folder(run_dir, learn::run_folder_rules("run", "experiment", true, "", {plan.data}));
    write_file_atomic(row_folder.path() / "config.yaml", to_yaml({{"command", "experiment"}, {"plan", request.plan},
                                                                  {"name", row.name}, {"key", key}}));
    const RetrievalRun run =
        train_embed_evaluate(row.config, run_request(plan, sets, row), row_folder.path(), row_folder.target(), observer);
    outcome.results.push_back(summarise(row, run));
    write_file_atomic(row_folder.path() / "result.json",
                      dump_json({{"key", key}, {"result", outcome.results.back().to_json()}}, 2) + "\n");
    row_folder.publish();
    work.keep();
    eval::write_comparison(outcome.folder, plan.title, outcome.results);
  }
  eval::write_comparison(outcome.folder, plan.title, outcome.results);
  if (!plan.rerank.empty()) {
    std::vector<std::pair<std::string, nlohmann::json>> reranked;
    for (const auto& row : plan.rows)
      if (std::any_of(outcome.results.begin(), outcome.results.end(),
                      [&](const eval::ExperimentResult& r) { return r.name == row.name; })) {
        observer.reranking(row.name);
        reranked.emplace_back(row.name, rerank_row(plan, row, outcome.folder / row.name));
      }
    write_rerank_table(outcome.folder, plan.title, reranked);
  }
  work.complete({{"rows", outcome.results.size()}});
  outcome.seconds = seconds_since(start);
  return outcome;
}

}  // namespace imret::pipeline
