#pragma once
// A whole retrieval run into one folder: train, embed the database and the
// queries with the best checkpoint, evaluate the full ranking
// (`imret demo`, each row of `imret experiment`).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "imret/data/dataset.hpp"
#include "imret/learn/train_config.hpp"
#include "imret/learn/trainer.hpp"
#include "imret/pipeline/evaluate_job.hpp"
#include "imret/search/index.hpp"

namespace imret::pipeline {

struct RetrievalRunRequest {
  std::string data;  // the dataset's path, recorded in the embeddings' meta.json
  std::shared_ptr<const data::Dataset> train_set;     // trained on
  std::shared_ptr<const data::Dataset> database_set;  // the database; null: the train set
  std::shared_ptr<const data::Dataset> query_set;
  std::string train_split = "train", database_split, query_split = "test";  // database_split empty: train_split
  search::Metric metric = search::Metric::Cosine;
  int64_t database_limit = 0, query_limit = 0;  // stratified parts (0: all)
};

struct RetrievalRun {
  learn::TrainResult trained;
  EvaluationOutcome evaluation;
};

struct PlannedRow;

// What a caller shows of a run while it goes: each step as it starts (number
// of total, and what it does), the training's result and the evaluation's;
// for a demo, when its report starts; for an experiment plan, each row reused
// or started. The default shows nothing.
class RetrievalRunObserver {
 public:
  virtual ~RetrievalRunObserver() = default;
  virtual void step(int number, int total, const std::string& title) { (void)number, (void)total, (void)title; }
  virtual void trained(const learn::TrainResult& result, const std::filesystem::path& run_dir) {
    (void)result, (void)run_dir;
  }
  virtual void evaluated(const EvaluationOutcome& outcome) { (void)outcome; }
  virtual void reporting() {}
  // An experiment plan's re-ranking of row `name` starts.
  virtual void reranking(const std::string& name) { (void)name; }
  virtual void row_reused(size_t number, size_t total, const PlannedRow& row, const std::filesystem::path& result) {
    (void)number, (void)total, (void)row, (void)result;
  }
  virtual void row_started(size_t number, size_t total, const PlannedRow& row) {
    (void)number, (void)total, (void)row;
  }
};

// The whole path into `run_dir`: train (checkpoints/, train_log.csv), embed
// the database (the training split unless another is given) and the query
// split with the best checkpoint (embeddings/database, embeddings/queries),
// evaluate the full ranking (metrics.json, pr_curve.csv).
// `run_dir` is where the files are written (an OutputFolder's staging
// folder), `final_run_dir` where the run will be: the embeddings record
// their checkpoint there, and the result's paths point there.
RetrievalRun train_embed_evaluate(const learn::TrainConfig& config, const RetrievalRunRequest& request,
                                  const std::filesystem::path& run_dir, const std::filesystem::path& final_run_dir,
                                  RetrievalRunObserver& observer);

}  // namespace imret::pipeline
