#include "imret/pipeline/experiment_plan.hpp"

#include <regex>
#include <set>

#include "imret/core/error.hpp"
#include "imret/core/yaml.hpp"
#include "imret/learn/trainer.hpp"
#include "imret/rerank/plan.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

namespace {

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

PlannedRow planned_row(const nlohmann::json& entry, const nlohmann::json& defaults, const std::string& where,
                       std::set<std::string>& names) {
  static const std::regex valid_name("[A-Za-z0-9._-]+");
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
  return row;
}

}  // namespace

Plan load_plan(const fs::path& path) {
  const std::string where = path.string();
  const nlohmann::json file = load_yaml(path);
  if (!file.is_object()) throw UsageError(where + ": expected a mapping with an 'experiments' list");
  static const std::set<std::string> keys = {"title",          "data",        "train_split", "query_split",
                                             "database_split", "out",         "database_limit", "query_limit",
                                             "defaults",       "experiments", "rerank",       "rerank_depth"};
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
  if (file.contains("rerank")) {
    const nlohmann::json& specs = file.at("rerank");
    if (!specs.is_array()) throw UsageError(where + ": 'rerank' should be a list of re-ranking specs");
    for (const auto& spec : specs) {
      if (!spec.is_string()) throw UsageError(where + ": 'rerank' holds " + spec.dump() + ", not a spec");
      plan.rerank.push_back(spec.get<std::string>());
    }
  }
  if (file.contains("rerank_depth")) {
    plan.rerank_depth = count_field(file, "rerank_depth", where);
    if (plan.rerank_depth < 1) throw UsageError(where + ": 'rerank_depth' should be at least 1");
  }
  for (const std::string& spec : plan.rerank) {
    try {
      rerank::Plan(spec, plan.rerank_depth);
    } catch (const UsageError& e) {
      throw UsageError(where + ": rerank: " + e.what());
    }
  }
  const nlohmann::json defaults = file.value("defaults", nlohmann::json::object());
  if (!defaults.is_object()) throw UsageError(where + ": 'defaults' should be a mapping of training settings");
  if (!file.contains("experiments") || !file.at("experiments").is_array() || file.at("experiments").empty())
    throw UsageError(where + ": 'experiments' should be a non-empty list");
  std::set<std::string> names;
  for (const auto& entry : file.at("experiments")) plan.rows.push_back(planned_row(entry, defaults, where, names));
  return plan;
}

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

}  // namespace imret::pipeline
