#pragma once
// Training into a run folder (`imret train`): config.yaml, checkpoints/,
// train_log.csv. A new run, or one continued from its checkpoint, is written
// in place (a stopped run can be resumed); a run that replaces another is
// built aside and swapped in when done, the old one staying until then.
#include <filesystem>
#include <memory>
#include <string>

#include "imret/core/error.hpp"
#include "imret/data/dataset.hpp"
#include "imret/learn/train_config.hpp"
#include "imret/learn/trainer.hpp"

namespace imret::dist {
class Communicator;
}

namespace imret::pipeline {

struct TrainRequest {
  learn::TrainConfig config;
  std::string data;              // recorded in config.yaml
  std::string split = "train";   // recorded in config.yaml
  std::filesystem::path out;     // the run folder; empty: the run `resume` belongs to
  std::string resume;            // continue from this checkpoint (RUN/checkpoints/last.safetensors)
  bool replace = false;          // a trained run already in `out` may be replaced
  // Data-parallel training: this process's place among the ranks (every rank
  // runs the same request; rank 0 alone writes the run folder). Null: one process.
  std::shared_ptr<dist::Communicator> group;
};

// The folder holds a trained run that the request would neither continue nor
// replace. The message says so without naming any option; `run_dir` and
// `last_checkpoint` let a front end say how to continue or replace it.
class RunExistsError : public UsageError {
 public:
  RunExistsError(std::filesystem::path run_dir, std::filesystem::path last_checkpoint);
  const std::filesystem::path run_dir;
  const std::filesystem::path last_checkpoint;
};

struct TrainOutcome {
  std::filesystem::path run_dir;  // absolute
  learn::TrainResult result;      // with the checkpoints' paths in run_dir
};

// The run folder of a request: `out`, else the run the resumed checkpoint
// belongs to. SettingError naming `out` when the checkpoint is in no run.
std::filesystem::path train_run_folder(const TrainRequest& request);

// Trains `dataset` as the request says. RunExistsError as above; the
// configuration is validated before anything is written. A resume that fails
// before its first checkpoint leaves the run's config.yaml as it was.
TrainOutcome train_to_folder(const TrainRequest& request, std::shared_ptr<const data::Dataset> dataset);

}  // namespace imret::pipeline
