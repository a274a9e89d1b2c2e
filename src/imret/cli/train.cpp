// imret train: learn an embedding (a classifier whose last layer is removed
// for retrieval, or a metric-learning method) and write a run directory.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/yaml.hpp"
#include "imret/data/dataset.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/learn/run_folder.hpp"
#include "imret/learn/trainer.hpp"

namespace imret::cli {
namespace {

struct TrainArgs {
  learn::TrainConfig config;
  std::string data = data::kDefaultFashionMnist;
  std::string split = "train";
  std::string out = "runs/train";
  std::string resume;
  std::string settings_file;
  bool overwrite = false;
  PreprocessArgs preprocess;
};

// Where the run goes: --out, or for --resume without --out the run the checkpoint belongs to.
std::filesystem::path run_folder(const TrainArgs& args, const CLI::App& command) {
  if (command.count("--out") > 0 || args.resume.empty()) return args.out;
  try {
    return learn::run_folder_of_checkpoint(args.resume);
  } catch (const Error& e) {
    throw UsageError(std::string(e.what()) + " (--out)");
  }
}

// True when `checkpoint` is in `run_dir`'s checkpoints/ folder.
bool resumes_in(const std::filesystem::path& checkpoint, const std::filesystem::path& run_dir) {
  try {
    std::error_code ec;
    return std::filesystem::weakly_canonical(learn::run_folder_of_checkpoint(checkpoint), ec) ==
           std::filesystem::weakly_canonical(run_dir, ec);
  } catch (const Error&) {
    return false;
  }
}

// Trains into `folder` (a run folder being written) and prints the summary
// with the paths where the run will be (`run_dir`).
void train_into(const TrainArgs& args, std::shared_ptr<data::Dataset> dataset, const std::filesystem::path& folder,
                const std::filesystem::path& run_dir, const nlohmann::json& recorded) {
  write_file_atomic(folder / "config.yaml", to_yaml(recorded));
  learn::TrainResult result = learn::train_embedding(args.config, dataset, folder, args.resume);
  result.last_checkpoint = run_dir / "checkpoints" / result.last_checkpoint.filename();
  result.best_checkpoint = run_dir / "checkpoints" / result.best_checkpoint.filename();
  print_training_summary(result, run_dir);
}

void run_train(TrainArgs& args, const CLI::App& command) {
  bool preprocess_from_file = false;
  if (!args.settings_file.empty()) {
    // The file's settings, then the flags given on the command line.
    nlohmann::json settings = load_training_settings(args.settings_file);
    preprocess_from_file = settings.contains("preprocess") && !args.preprocess.given();
    settings.merge_patch(given_training_settings(command, args.config));
    args.config = learn::TrainConfig::from_settings(settings, args.settings_file);
  }
  auto dataset = data::open_dataset(args.data, args.split);
  if (!preprocess_from_file) args.config.preprocess = args.preprocess.resolve(dataset->channels());
  const std::filesystem::path run_dir = std::filesystem::absolute(run_folder(args, command)).lexically_normal();
  // A run folder without a checkpoint (stopped before its first epoch ended) has nothing to keep.
  const bool existing_run =
      learn::holds_run(run_dir, "run") && std::filesystem::exists(run_dir / "checkpoints" / "last.safetensors");
  // Continuing the run the checkpoint is in, or writing a run of its own (a new one, or a fork with --resume -o).
  const bool continues = !args.resume.empty() && resumes_in(args.resume, run_dir);
  if (existing_run && !continues && !args.overwrite)
    throw UsageError(run_dir.string() + " already holds a training run: continue it with --resume " +
                     (run_dir / "checkpoints" / "last.safetensors").string() + ", or pass --overwrite or another --out");
  args.config.validate();  // before anything is written
  const nlohmann::json recorded = {{"command", "train"}, {"data", args.data}, {"split", args.split},
                                   {"train", args.config.to_json()}};
  const std::vector<std::filesystem::path> inputs = {args.data};
  if (existing_run && !continues) {
    // Replacing a run: the new one is built aside and swapped in when done; until then the old one stays.
    OutputFolder out(run_dir, learn::run_folder_rules("run", "train", true, "", inputs));
    train_into(args, dataset, out.path(), run_dir, recorded);
    out.publish();
    return;
  }
  // A new run, or one continued: written in place, so that a stopped run can be resumed.
  WorkFolder work(run_dir, learn::run_folder_rules("run", "train", false, "", inputs));
  const std::filesystem::path config_file = work.path() / "config.yaml";
  const std::filesystem::path last = work.path() / "checkpoints" / "last.safetensors";
  const std::string old_config = continues && std::filesystem::exists(config_file) ? read_file(config_file) : "";
  std::error_code ec;
  const auto last_saved = std::filesystem::last_write_time(last, ec);
  try {
    train_into(args, dataset, work.path(), run_dir, recorded);
  } catch (...) {
    if (std::filesystem::exists(last, ec)) work.keep();
    // A resume that failed before its first checkpoint leaves the run's settings as they were.
    if (!old_config.empty() && std::filesystem::last_write_time(last, ec) == last_saved)
      write_file_atomic(config_file, old_config);
    throw;
  }
  work.keep();
  work.complete();
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* command = app.add_subcommand("train", "Train an embedding network and write a run directory");
  command->add_option("--data", args->data, "Dataset: an MNIST/Fashion-MNIST IDX folder or an image folder (root/<split>/<class>/*.jpg)")
      ->capture_default_str();
  command->add_option("--split", args->split, "Split to train on")->capture_default_str();
  command->add_option("-o,--out", args->out, "Run directory to write")->capture_default_str();
  add_network_options(*command, args->config.network);
  add_training_options(*command, args->config);
  args->preprocess.add_options(*command);
  command->add_option("--config", args->settings_file,
                      "YAML training settings (keys as in a run's config.yaml; flags given here override them)")
      ->check(CLI::ExistingFile);
  command->add_option("--resume", args->resume,
                      "Continue from this checkpoint (RUN/checkpoints/last.safetensors; the run goes on in RUN unless "
                      "--out says otherwise)");
  command->add_flag("--overwrite", args->overwrite, "Replace a trained run already in --out");
  command->callback([args, command] { run_train(*args, *command); });
}

}  // namespace imret::cli
