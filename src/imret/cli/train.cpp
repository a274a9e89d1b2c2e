// imret train: learn an embedding (a classifier whose last layer is removed
// for retrieval, or a metric-learning method) and write a run directory.
#include <CLI/CLI.hpp>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/core/error.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/pipeline/train_job.hpp"

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
  pipeline::TrainRequest request;
  request.config = args.config;
  request.data = args.data;
  request.split = args.split;
  // --out, or for --resume without --out the run the checkpoint belongs to.
  if (command.count("--out") > 0 || args.resume.empty()) request.out = args.out;
  request.resume = args.resume;
  request.replace = args.overwrite;
  try {
    const pipeline::TrainOutcome outcome = pipeline::train_to_folder(request, dataset);
    print_training_summary(outcome.result, outcome.run_dir);
  } catch (const pipeline::RunExistsError& e) {
    throw UsageError(e.run_dir.string() + " already holds a training run: continue it with --resume " +
                     e.last_checkpoint.string() + ", or pass --overwrite or another --out");
  }
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
