#pragma once
// An experiment plan (YAML): data and splits shared by every row, default
// training settings, and a list of named experiments, each a set of training
// settings over the defaults (configs/experiments/*.yaml).
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/data/idx.hpp"
#include "imret/learn/train_config.hpp"
#include "imret/search/index.hpp"

namespace imret::pipeline {

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
  // Re-ranking specs (rerank::Plan syntax) compared on every row's
  // embeddings: rerank.md beside the results table.
  std::vector<std::string> rerank;
  int64_t rerank_depth = 100;
};

// Reads and checks a plan: UsageError naming the file (and the experiment)
// for an unknown key, a value of the wrong kind, a missing, invalid or
// repeated name, or training settings that do not validate.
Plan load_plan(const std::filesystem::path& path);

// What decides a row's result: a stored result is reused only when its key
// equals this one.
nlohmann::json row_key(const Plan& plan, const PlannedRow& row);

}  // namespace imret::pipeline
