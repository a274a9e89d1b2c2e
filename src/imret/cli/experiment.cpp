// imret experiment PLAN.yaml: trains a list of configurations on the same
// data split, seed and evaluation, and writes one comparison table
// (results.md, results.csv, results.json). Each row is a full run directory
// (train, embed, evaluate); a row whose result.json matches its settings is
// reused, so an interrupted plan continues where it stopped.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <regex>
#include <set>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/cli/pipeline.hpp"
#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/learn/run_folder.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/yaml.hpp"
#include "imret/data/idx.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/eval/comparison.hpp"
#include "imret/learn/objective.hpp"
#include "imret/learn/registry.hpp"

namespace imret::cli {
namespace {
namespace fs = std::filesystem;

struct ExperimentArgs {
  std::string plan;
  std::string out;
  std::vector<std::string> only;
  bool rerun = false;
};

struct PlannedRow {
  std::string name;
  std::string description;
  learn::TrainConfig config;
  bool preprocess_given = false;  // else the data's default preprocessing
  search::Metric metric = search::Metric::Cosine;
};

struct Plan {
  std::string title;
  std::string data = data::kDefaultFashionMnist;
  std::string train_split = "train", query_split = "test";
  std::string database_split;  // empty: the train split
  int64_t database_limit = 0, query_limit = 0;
  std::string out;
  std::vector<PlannedRow> rows;
};

std::string string_field(const nlohmann::json& json, const char* key, const std::string& fallback,
                         const std::string& where) {
  if (!json.contains(key)) return fallback;
  if (!json.at(key).is_string()) throw UsageError(where + ": '" + key + "' should be a string");
  return json.at(key).get<std::string>();
}

int64_t count_field(const nlohmann::json& json, const char* key, const std::string& where) {
  if (!json.contains(key)) return 0;
  if (!json.at(key).is_number_integer() || json.at(key).get<int64_t>() < 0)
    throw UsageError(where + ": '" + key + "' should be a count >= 0");
  return json.at(key).get<int64_t>();
}

Plan load_plan(const fs::path& path) {
  const std::string where = path.string();
  const nlohmann::json file = load_yaml(path);
  if (!file.is_object()) throw UsageError(where + ": expected a mapping with an 'experiments' list");
  static const std::set<std::string> keys = {"title",          "data",        "train_split", "query_split",
                                             "database_split", "out",         "database_limit", "query_limit",
                                             "defaults",       "experiments"};
  for (const auto& [key, value] : file.items())
    if (!keys.count(key)) throw UsageError(where + ": unknown key '" + key + "'");
  Plan plan;
  plan.title = string_field(file, "title", path.stem().string(), where);
  plan.data = string_field(file, "data", plan.data, where);
  plan.train_split = string_field(file, "train_split", plan.train_split, where);
  plan.query_split = string_field(file, "query_split", plan.query_split, where);
  plan.database_split = string_field(file, "database_split", "", where);
  plan.out = string_field(file, "out", "runs/experiments/" + path.stem().string(), where);
  plan.database_limit = count_field(file, "database_limit", where);
  plan.query_limit = count_field(file, "query_limit", where);
  const nlohmann::json defaults = file.value("defaults", nlohmann::json::object());
  if (!defaults.is_object()) throw UsageError(where + ": 'defaults' should be a mapping of training settings");
  if (!file.contains("experiments") || !file.at("experiments").is_array() || file.at("experiments").empty())
    throw UsageError(where + ": 'experiments' should be a non-empty list");
  std::set<std::string> names;
  const std::regex valid_name("[A-Za-z0-9._-]+");
  for (const auto& entry : file.at("experiments")) {
    if (!entry.is_object() || !entry.contains("name") || !entry.at("name").is_string())
      throw UsageError(where + ": every experiment needs a 'name'");
    PlannedRow row;
    row.name = entry.at("name").get<std::string>();
    const std::string row_where = where + ": experiment " + row.name;
    if (!std::regex_match(row.name, valid_name))
      throw UsageError(row_where + ": a name may hold only letters, digits, '.', '_' and '-' (it names a folder)");
    if (!names.insert(row.name).second) throw UsageError(row_where + ": the name is used twice");
    row.description = string_field(entry, "description", "", row_where);
    nlohmann::json settings = defaults;
    for (const auto& [key, value] : entry.items())
      if (key != "name" && key != "description" && key != "metric") settings[key] = value;
    row.config = learn::TrainConfig::from_settings(settings, row_where);
    row.preprocess_given = settings.contains("preprocess");
    row.config.validate();
    const std::string metric = string_field(entry, "metric", "auto", row_where);
    row.metric = metric == "auto" ? learn::retrieval_metric(row.config) : search::parse_metric(metric);
    plan.rows.push_back(std::move(row));
  }
  return plan;
}

// What decides a row's result: reused only when all of it is unchanged.
nlohmann::json row_key(const Plan& plan, const PlannedRow& row) {
  nlohmann::json key = {{"data", plan.data},
                        {"train_split", plan.train_split},
                        {"query_split", plan.query_split},
                        {"database_limit", plan.database_limit},
                        {"query_limit", plan.query_limit},
                        {"metric", search::to_string(row.metric)},
                        {"train", row.config.to_json()}};
  // Settings added later are left out at their defaults: older results stay valid.
  if (!plan.database_split.empty()) key["database_split"] = plan.database_split;
  nlohmann::json& train = key["train"];
  if (train.value("positive_overlap", 0.0) == 0.0) train.erase("positive_overlap");
  if (train.value("negatives", std::string("disjoint")) == "disjoint") train.erase("negatives");
  return key;
}

// The table's distance and margin columns, which follow from the settings (not stored in result.json).
void describe_loss(eval::ExperimentResult& result, const learn::TrainConfig& config) {
  result.distance = learn::table_distance(config);
  result.margin = learn::table_margin(config);
}

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
  result.knn_accuracy = run.evaluation.metrics.contains("knn") ? run.evaluation.metrics["knn"].value("accuracy", NAN) : NAN;
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

void run_experiments(const ExperimentArgs& args) {
  Plan plan = load_plan(args.plan);
  const fs::path out = args.out.empty() ? fs::path(plan.out) : fs::path(args.out);
  for (const auto& name : args.only) {
    bool found = false;
    for (const auto& row : plan.rows) found = found || row.name == name;
    if (!found) throw UsageError("--only " + name + ": " + args.plan + " has no experiment of that name");
  }
  auto train_set = data::open_dataset(plan.data, plan.train_split);
  auto query_set = data::open_dataset(plan.data, plan.query_split, train_set->classes());
  std::shared_ptr<const data::Dataset> database_set;
  if (!plan.database_split.empty() && plan.database_split != plan.train_split)
    database_set = data::open_dataset(plan.data, plan.database_split, train_set->classes());
  // The experiment folder is written in place: its finished rows are kept when a later row fails or is stopped.
  OutputRules folder_rules;
  folder_rules.kind = "experiment";
  folder_rules.command = "experiment";
  folder_rules.inputs = {plan.data};
  // Written before markers: the three tables and one run folder per row (each with its result.json).
  folder_rules.legacy = [](const fs::path& folder) {
    std::error_code ec;
    if (!fs::exists(folder / "results.json", ec)) return false;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      const std::string name = entry.path().filename().string();
      if (name[0] == '.' || name == "results.md" || name == "results.csv" || name == "results.json") continue;
      if (!entry.is_directory(ec) || !fs::exists(entry.path() / "config.yaml", ec)) return false;
    }
    return true;
  };
  WorkFolder work(out, folder_rules);
  PreprocessArgs preprocess;
  std::vector<eval::ExperimentResult> results;
  const auto start = std::chrono::steady_clock::now();
  size_t index = 0;
  for (auto& row : plan.rows) {
    ++index;
    const fs::path run_dir = out / row.name;
    const fs::path result_path = run_dir / "result.json";
    const bool selected = args.only.empty() ||
                          std::find(args.only.begin(), args.only.end(), row.name) != args.only.end();
    if (!row.preprocess_given) row.config.preprocess = preprocess.resolve(train_set->channels());
    const nlohmann::json key = row_key(plan, row);
    if (fs::exists(result_path) && !(args.rerun && selected)) {
      nlohmann::json stored;
      try {
        stored = nlohmann::json::parse(read_file(result_path));
      } catch (const nlohmann::json::exception& e) {
        throw Error(result_path.string() + ": not valid JSON (" + e.what() + "); delete it or pass --rerun");
      }
      if (stored.value("key", nlohmann::json()) == key) {
        std::printf("[%zu/%zu] %s: reusing %s\n", index, plan.rows.size(), row.name.c_str(), result_path.c_str());
        results.push_back(eval::ExperimentResult::from_json(stored.at("result")));
        describe_loss(results.back(), row.config);
        continue;
      }
    }
    if (!selected) continue;
    std::printf("\n[%zu/%zu] %s%s%s\n", index, plan.rows.size(), row.name.c_str(),
                row.description.empty() ? "" : ": ", row.description.c_str());
    // Each row's run is built aside and swapped in whole when it is complete.
    OutputFolder row_folder(run_dir, learn::run_folder_rules("run", "experiment", true, "", {plan.data}));
    write_file_atomic(row_folder.path() / "config.yaml", to_yaml({{"command", "experiment"}, {"plan", args.plan},
                                                                  {"name", row.name}, {"key", key}}));
    RetrievalRunRequest request;
    request.data = plan.data;
    request.train_set = train_set;
    request.database_set = database_set;
    request.query_set = query_set;
    request.train_split = plan.train_split;
    request.database_split = plan.database_split;
    request.query_split = plan.query_split;
    request.metric = row.metric;
    request.database_limit = plan.database_limit;
    request.query_limit = plan.query_limit;
    const RetrievalRun run = train_embed_evaluate(row.config, request, row_folder.path(), row_folder.target());
    results.push_back(summarise(row, run));
    write_file_atomic(row_folder.path() / "result.json",
                      dump_json({{"key", key}, {"result", results.back().to_json()}}, 2) + "\n");
    row_folder.publish();
    work.keep();
    eval::write_comparison(out, plan.title, results);
  }
  eval::write_comparison(out, plan.title, results);
  work.complete({{"rows", results.size()}});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\n%s", eval::comparison_markdown(plan.title, results).c_str());
  std::printf("\n%zu of %zu experiments in the table (%s); written: %s/results.{md,csv,json}\n", results.size(),
              plan.rows.size(), format_duration(seconds).c_str(), out.string().c_str());
}

}  // namespace

void add_experiment_command(CLI::App& app) {
  auto args = std::make_shared<ExperimentArgs>();
  CLI::App* command = app.add_subcommand(
      "experiment", "Run a list of training configurations (a YAML plan) into one comparison table");
  command->add_option("plan", args->plan, "Experiment plan (YAML): data, defaults, experiments")
      ->required()
      ->check(CLI::ExistingFile);
  command->add_option("-o,--out", args->out, "Output folder (default: the plan's 'out', else runs/experiments/<plan>)");
  command->add_option("--only", args->only, "Run only these experiments (comma-separated names); others are reused")
      ->delimiter(',');
  command->add_flag("--rerun", args->rerun, "Run again even where a matching result exists");
  command->callback([args] { run_experiments(*args); });
}

}  // namespace imret::cli
