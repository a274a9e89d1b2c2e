#pragma once
// How the command line shows evaluations and whole retrieval runs.
#include "imret/pipeline/evaluate_job.hpp"
#include "imret/pipeline/experiment_plan.hpp"
#include "imret/pipeline/retrieval_run.hpp"

namespace imret::cli {

// Prints the metrics table and the k-NN accuracy.
void print_metrics(const pipeline::EvaluationOutcome& outcome);

// Prints each step's header ("== 1/3 train: ... =="), the training summary
// and the metrics of a retrieval run, the demo's report header, and the rows
// of an experiment plan.
class RunPrinter : public pipeline::RetrievalRunObserver {
 public:
  void step(int number, int total, const std::string& title) override;
  void trained(const learn::TrainResult& result, const std::filesystem::path& run_dir) override;
  void evaluated(const pipeline::EvaluationOutcome& outcome) override;
  void reporting() override;
  void reranking(const std::string& name) override;
  void row_reused(size_t number, size_t total, const pipeline::PlannedRow& row,
                  const std::filesystem::path& result) override;
  void row_started(size_t number, size_t total, const pipeline::PlannedRow& row) override;
};

}  // namespace imret::cli
