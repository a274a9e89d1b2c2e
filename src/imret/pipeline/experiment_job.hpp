#pragma once
// Running an experiment plan (experiment_plan.hpp) into one folder
// (`imret experiment`): one run folder per row (train, embed, evaluate, and
// its result.json), and the comparison table results.{md,csv,json}, rewritten
// after each row. A row whose result.json holds its key is reused, so an
// interrupted plan goes on where it stopped.
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "imret/eval/comparison.hpp"
#include "imret/pipeline/experiment_plan.hpp"
#include "imret/pipeline/retrieval_run.hpp"

namespace imret::pipeline {

struct ExperimentRequest {
  std::string plan;                // the plan's file
  std::filesystem::path out;       // empty: the plan's `out`
  std::vector<std::string> only;   // run only these rows (others are reused where they can be)
  bool rerun = false;              // run the selected rows even where a matching result exists
};

struct ExperimentOutcome {
  std::string title;
  std::filesystem::path folder;
  std::vector<eval::ExperimentResult> results;  // the rows in the table, in plan order
  size_t planned = 0;                           // rows in the plan
  double seconds = 0;
};

// The table row of a finished run.
eval::ExperimentResult summarise(const PlannedRow& row, const RetrievalRun& run);

// Runs the plan. SettingError naming `only` for a name the plan lacks; Error
// naming a stored result.json that is not valid JSON.
// `observer` is told of each row reused or started, then of its run's steps.
ExperimentOutcome run_experiment(const ExperimentRequest& request, RetrievalRunObserver& observer);

}  // namespace imret::pipeline
