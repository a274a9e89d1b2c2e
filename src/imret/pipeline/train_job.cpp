#include "imret/pipeline/train_job.hpp"

#include "imret/core/atomic_file.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/core/yaml.hpp"
#include "imret/dist/communicator.hpp"
#include "imret/learn/run_folder.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

namespace {

// True when `checkpoint` is in `run_dir`'s checkpoints/ folder.
bool resumes_in(const fs::path& checkpoint, const fs::path& run_dir) {
  try {
    std::error_code ec;
    return fs::weakly_canonical(learn::run_folder_of_checkpoint(checkpoint), ec) == fs::weakly_canonical(run_dir, ec);
  } catch (const Error&) {
    return false;
  }
}

// Trains into `folder` (a run folder being written); the result's paths are
// where the run will be (`run_dir`).
learn::TrainResult train_into(const TrainRequest& request, std::shared_ptr<const data::Dataset> dataset,
                              const fs::path& folder, const fs::path& run_dir) {
  write_file_atomic(folder / "config.yaml", to_yaml({{"command", "train"},
                                                     {"data", request.data},
                                                     {"split", request.split},
                                                     {"train", request.config.to_json()}}));
  learn::TrainResult result = learn::train_embedding(request.config, dataset, folder, request.resume, request.group);
  result.last_checkpoint = run_dir / "checkpoints" / result.last_checkpoint.filename();
  result.best_checkpoint = run_dir / "checkpoints" / result.best_checkpoint.filename();
  return result;
}

// A new run, or one continued, written in place.
learn::TrainResult train_in_place(const TrainRequest& request, std::shared_ptr<const data::Dataset> dataset,
                                  const fs::path& run_dir, bool continues, const std::vector<fs::path>& inputs) {
  WorkFolder work(run_dir, learn::run_folder_rules("run", "train", false, "", inputs));
  const fs::path config_file = work.path() / "config.yaml";
  const fs::path last = work.path() / "checkpoints" / "last.safetensors";
  const std::string old_config = continues && fs::exists(config_file) ? read_file(config_file) : "";
  std::error_code ec;
  const auto last_saved = fs::last_write_time(last, ec);
  learn::TrainResult result;
  try {
    result = train_into(request, dataset, work.path(), run_dir);
  } catch (...) {
    if (fs::exists(last, ec)) work.keep();
    // A resume that failed before its first checkpoint leaves the run's settings as they were.
    if (!old_config.empty() && fs::last_write_time(last, ec) == last_saved) write_file_atomic(config_file, old_config);
    throw;
  }
  work.keep();
  work.complete();
  return result;
}

}  // namespace

RunExistsError::RunExistsError(fs::path run_dir_in, fs::path last_checkpoint_in)
    : UsageError(run_dir_in.string() + " already holds a training run: continue it from " +
                 last_checkpoint_in.string() + ", replace it, or train into another folder"),
      run_dir(std::move(run_dir_in)),
      last_checkpoint(std::move(last_checkpoint_in)) {}

fs::path train_run_folder(const TrainRequest& request) {
  if (!request.out.empty() || request.resume.empty()) return request.out;
  try {
    return learn::run_folder_of_checkpoint(request.resume);
  } catch (const Error& e) {
    throw SettingError("out", std::string(": ") + e.what() + "; say where the run goes");
  }
}

TrainOutcome train_to_folder(const TrainRequest& request, std::shared_ptr<const data::Dataset> dataset) {
  TrainOutcome outcome;
  outcome.run_dir = fs::absolute(train_run_folder(request)).lexically_normal();
  const fs::path& run_dir = outcome.run_dir;
  if (request.group && request.group->rank() != 0) {
    // Rank 0 decides about the folder and writes it; a refusal there ends
    // this rank's first collective with rank 0's error.
    request.config.validate();
    outcome.result = learn::train_embedding(request.config, dataset, {}, request.resume, request.group);
    return outcome;
  }
  // A run folder without a checkpoint (stopped before its first epoch ended) has nothing to keep.
  const fs::path last = run_dir / "checkpoints" / "last.safetensors";
  const bool existing_run = learn::holds_run(run_dir, "run") && fs::exists(last);
  // Continuing the run the checkpoint is in, or writing a run of its own (a new one, or a fork of a resumed one).
  const bool continues = !request.resume.empty() && resumes_in(request.resume, run_dir);
  if (existing_run && !continues && !request.replace) throw RunExistsError(run_dir, last);
  request.config.validate();  // before anything is written
  const std::vector<fs::path> inputs = {request.data};
  if (existing_run && !continues) {
    // Replacing a run: the new one is built aside and swapped in when done; until then the old one stays.
    OutputFolder out(run_dir, learn::run_folder_rules("run", "train", true, "", inputs));
    outcome.result = train_into(request, dataset, out.path(), run_dir);
    out.publish();
    return outcome;
  }
  outcome.result = train_in_place(request, dataset, run_dir, continues, inputs);
  return outcome;
}

}  // namespace imret::pipeline
