// imret train: learn an embedding (a classifier whose last layer is removed
// for retrieval, or a metric-learning method) and write a run directory.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>

#include <fstream>
#include <iterator>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/core/error.hpp"
#include "imret/core/feedback.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/dist/communicator.hpp"
#include "imret/dist/local_launcher.hpp"
#include "imret/dist/world.hpp"
#include "imret/pipeline/networks.hpp"
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
  std::string model, model_settings, model_output;  // a TorchScript backbone
  int nproc_per_node = 1;
  double dist_timeout = 300;
};

// This program's arguments (after argv[0]), as the kernel has them.
std::vector<std::string> own_arguments() {
  std::ifstream file("/proc/self/cmdline", std::ios::binary);
  const std::string all((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::vector<std::string> args;
  for (size_t begin = 0; begin < all.size();) {
    const size_t end = all.find('\0', begin);
    args.push_back(all.substr(begin, end - begin));
    begin = end == std::string::npos ? all.size() : end + 1;
  }
  if (!args.empty()) args.erase(args.begin());
  return args;
}

// --nproc-per-node N: this command again, N times, as torchrun would start it.
int launch_local_workers(int processes) {
  std::vector<std::string> args;
  const std::vector<std::string> all = own_arguments();
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i] == "--nproc-per-node") {
      ++i;
      continue;
    }
    if (all[i].rfind("--nproc-per-node=", 0) == 0) continue;
    args.push_back(all[i]);
  }
  dist::LocalLaunch launch;
  launch.processes = processes;
  launch.program = std::filesystem::read_symlink("/proc/self/exe").string();
  launch.arguments = args;
  spdlog::info("starting {} training processes on this host", processes);
  return dist::run_local_workers(launch);
}

// Ranks other than 0 report warnings and errors only, marked with their rank.
void quiet_rank(int rank) {
  if (spdlog::get_level() < spdlog::level::warn) spdlog::set_level(spdlog::level::warn);
  spdlog::set_pattern("%^[%l]%$ rank " + std::to_string(rank) + ": %v");
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
  if (!args.model.empty()) {
    if (!args.config.weights.empty())
      throw UsageError("--model: a TorchScript model brings its weights; --weights goes with --arch");
    if (command.count("--arch") > 0)
      throw UsageError("--model: a TorchScript model is the architecture; --arch goes with --weights");
    // A pooling given (option or settings file) over the model's settings file's.
    const std::string pool = args.config.network.pool != "gap" || command.count("--pool") > 0 ? args.config.network.pool : "";
    const pipeline::ScriptedModel scripted = pipeline::scripted_model(
        args.model, args.model_settings, args.model_output, pool, args.preprocess, dataset->channels());
    models::NetworkSpec& network = args.config.network;
    network.arch = scripted.spec.arch;
    network.model = scripted.spec.model;
    network.model_method = scripted.spec.model_method;
    network.model_output = scripted.spec.model_output;
    network.input_size = scripted.spec.input_size;
    network.pool = scripted.spec.pool;
    if (!preprocess_from_file) args.config.preprocess = scripted.preprocess;
  }
  pipeline::TrainRequest request;
  request.config = args.config;
  request.data = args.data;
  request.split = args.split;
  // --out, or for --resume without --out the run the checkpoint belongs to.
  if (command.count("--out") > 0 || args.resume.empty()) request.out = args.out;
  request.resume = args.resume;
  request.replace = args.overwrite;
  const dist::WorldInfo world = dist::world_from_environment();
  TerminalFeedback silent({stderr, stdout, /*show_progress=*/false});
  std::optional<FeedbackScope> rank_scope;
  if (world.distributed()) {
    dist::CommunicatorOptions options;
    options.timeout = std::chrono::milliseconds(static_cast<int64_t>(args.dist_timeout * 1000));
    request.group = dist::connect(world, options);
    // One GPU per process on a host: --device cuda means this process's (its local rank's, modulo the
    // GPUs, so that several ranks may share one).
    if (request.config.device == "cuda" && torch::cuda::device_count() > 0)
      request.config.device = "cuda:" + std::to_string(world.local_rank % torch::cuda::device_count());
    spdlog::info("distributed training: {}", world.describe());
    if (world.rank != 0) {
      quiet_rank(world.rank);
      rank_scope.emplace(silent);
    }
  }
  try {
    const pipeline::TrainOutcome outcome = pipeline::train_to_folder(request, dataset);
    if (world.rank == 0) print_training_summary(outcome.result, outcome.run_dir);
  } catch (const pipeline::RunExistsError& e) {
    const std::string message = e.run_dir.string() + " already holds a training run: continue it with --resume " +
                                e.last_checkpoint.string() + ", or pass --overwrite or another --out";
    if (request.group) request.group->report_failure(message, false);
    throw UsageError(message);
  } catch (const std::exception& e) {
    if (request.group) request.group->report_failure(e.what(), dynamic_cast<const dist::PeerError*>(&e) != nullptr);
    throw;
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
  command->add_option("--model", args->model,
                      "A TorchScript backbone to train (torch.jit.trace/script + torch.jit.save) instead of --arch; "
                      "its settings from net.json beside net.pt or --model-settings; with a metric-learning method");
  command->add_option("--model-settings", args->model_settings, "With --model: its settings file (JSON)");
  command->add_option("--model-output", args->model_output,
                      "With --model: the output to train when it returns a tuple (index) or a dict (key)");
  add_training_options(*command, args->config);
  args->preprocess.add_options(*command);
  command->add_option("--config", args->settings_file,
                      "YAML training settings (keys as in a run's config.yaml; flags given here override them)")
      ->check(CLI::ExistingFile);
  command->add_option("--resume", args->resume,
                      "Continue from this checkpoint (RUN/checkpoints/last.safetensors; the run goes on in RUN unless "
                      "--out says otherwise)");
  command->add_flag("--overwrite", args->overwrite, "Replace a trained run already in --out");
  command->add_option("--nproc-per-node", args->nproc_per_node,
                      "Train with this many processes on this host, each on its part of every batch (as torchrun "
                      "--nproc-per-node; under torchrun or srun, the launcher's variables decide instead)")
      ->check(CLI::Range(1, 1024));
  command->add_option("--dist-timeout", args->dist_timeout,
                      "Distributed training: seconds to wait for the other processes (joining, and each exchange) "
                      "before failing with the rank at fault")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->callback([args, command] {
    const bool worker = dist::world_from_environment().distributed();
    if (args->nproc_per_node > 1 && !worker) {
      const int status = launch_local_workers(args->nproc_per_node);
      if (status != 0) throw Error("distributed training failed (" + std::to_string(status) + "); see the ranks' errors above");
      return;
    }
    run_train(*args, *command);
  });
}

}  // namespace imret::cli
