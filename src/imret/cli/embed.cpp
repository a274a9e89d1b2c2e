// imret embed: embeddings of a dataset split with a trained checkpoint.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <tuple>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/core/precision.hpp"
#include "imret/core/runtime.hpp"
#include "imret/core/error.hpp"
#include "imret/data/loader.hpp"
#include "imret/models/pooling.hpp"
#include "imret/pipeline/embed_job.hpp"

namespace imret::cli {
namespace {

struct EmbedArgs {
  pipeline::EmbedRequest request;
  std::string scales;
  PreprocessArgs preprocess;
  std::string out;
  std::string device = "cpu";
  std::string precision = "fp32";
  std::string on_bad_image = "skip";
  std::string shard;
};

struct MergeArgs {
  std::vector<std::string> shards;
  std::string out;
};

// "1,0.707,1.414" -> those factors; UsageError naming --scales otherwise.
std::vector<double> parse_scales(const std::string& text) {
  std::vector<double> scales;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    const std::string item = text.substr(start, comma - start);
    char* end = nullptr;
    const double value = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !(value > 0 && value <= 4))
      throw UsageError("--scales '" + text + "': expected factors in (0, 4] joined by ',' (e.g. 1,0.707,1.414)");
    scales.push_back(value);
    start = comma + 1;
  }
  return scales;
}

void run_embed(const EmbedArgs& args) {
  pipeline::EmbedRequest request = args.request;
  request.preprocess = args.preprocess;
  request.options.device = parse_device(args.device);
  request.options.precision = parse_precision(args.precision);
  check_precision_on(request.options.precision, request.options.device);
  request.options.on_bad_image = data::parse_bad_image_policy(args.on_bad_image);
  request.options.label = "embed " + request.split;
  request.options.channels_last = true;
  if (!args.scales.empty()) request.scales = parse_scales(args.scales);
  if (!args.shard.empty()) {
    std::tie(request.shard, request.shards) = pipeline::parse_shard(args.shard);
    request.options.label += " shard " + args.shard;
  }
  const pipeline::EmbedOutcome outcome = pipeline::embed_to_folder(request, args.out);
  std::printf("embedded %lld of %lld images (%lld-d) -> %s/{embeddings.npy,items.jsonl,meta.json}\n",
              static_cast<long long>(outcome.embedded), static_cast<long long>(outcome.images),
              static_cast<long long>(outcome.dimension), args.out.c_str());
  if (outcome.embedded < outcome.images)
    std::printf("%lld bad images skipped (listed in meta.json)\n",
                static_cast<long long>(outcome.images - outcome.embedded));
}

void run_merge(const MergeArgs& args) {
  std::vector<std::filesystem::path> shards(args.shards.begin(), args.shards.end());
  const pipeline::MergeOutcome outcome = pipeline::merge_embedding_shards(shards, args.out);
  std::printf("merged %lld shards: %lld items (%lld-d) -> %s/{embeddings.npy,items.jsonl,meta.json}\n",
              static_cast<long long>(outcome.shards), static_cast<long long>(outcome.items),
              static_cast<long long>(outcome.dimension), args.out.c_str());
}

}  // namespace

void add_embed_command(CLI::App& app) {
  auto args = std::make_shared<EmbedArgs>();
  CLI::App* command = app.add_subcommand("embed", "Embed a dataset split with a checkpoint, weights or a TorchScript model (-> .npy + items.jsonl)");
  command->add_option("-c,--checkpoint", args->request.checkpoint, "Checkpoint (.safetensors) written by imret train");
  command->add_option("--arch", args->request.arch, "With --weights: the network (resnet18/34/50/101, convnet)")
      ->check(CLI::IsMember(models::known_architectures()));
  command->add_option("--weights", args->request.weights, "Weights for --arch (torchvision .pth or safetensors)");
  add_weights_prefix_option(*command, args->request.weights_prefix);
  command->add_option("--model", args->request.model,
                      "A TorchScript backbone (torch.jit.trace/script + torch.jit.save); its settings (input_size, mean, "
                      "std, output, ...) from net.json beside net.pt or --model-settings");
  command->add_option("--model-settings", args->request.model_settings, "With --model: its settings file (JSON)");
  command->add_option("--model-output", args->request.model_output,
                      "With --model: the output to embed with when it returns a tuple (index) or a dict (key)");
  command->add_option("--pool", args->request.pool,
                      std::string("How a feature map becomes the embedding (resnets, TorchScript feature maps): ") +
                          models::pool_names());
  command->add_option("--scales", args->scales,
                      "Multi-scale descriptors: embed the images resized by each factor, average the L2-normalised "
                      "embeddings (e.g. 1,0.707,1.414)");
  command->add_option("--whiten", args->request.whiten,
                      "Learn a whitening from these embeddings and apply it: pca[:dim=D], or learned[:dim=D] "
                      "(Radenovic's, from same-class pairs); saved with them, applied to their queries");
  command->add_option("--whiten-from", args->request.whiten_from,
                      "Apply the whitening of this (database) embedding folder");
  args->preprocess.add_options(*command);
  command->add_option("--data", args->request.data, "Dataset folder (IDX or image folder)")->capture_default_str();
  command->add_option("--split", args->request.split, "Split to embed")->capture_default_str();
  command->add_option("-o,--out", args->out, "Output folder (required)");
  command->add_option("--shard", args->shard,
                      "Embed only shard i of N (i/N, from 0): a contiguous 1/N of the split, for N processes or "
                      "hosts; join them with imret embed merge");
  command->add_option("--batch-size", args->request.options.batch_size, "Batch size")->capture_default_str();
  command->add_option("--workers", args->request.options.workers, "Data loader threads")->capture_default_str();
  command->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  add_precision_option(*command, args->precision);
  command->add_option("--on-bad-image", args->on_bad_image, "skip (and report) or fail")
      ->check(CLI::IsMember({"skip", "fail"}))
      ->capture_default_str();
  auto merge_args = std::make_shared<MergeArgs>();
  CLI::App* merge = command->add_subcommand("merge", "Join the folders of imret embed --shard i/N into one");
  merge->add_option("shards", merge_args->shards, "The shard folders (all N, any order)")->required();
  merge->add_option("-o,--out", merge_args->out, "Output folder")->required();
  merge->callback([merge_args] { run_merge(*merge_args); });
  command->require_subcommand(0, 1);
  command->callback([args, merge] {
    if (merge->parsed()) return;
    if (args->out.empty()) throw CLI::RequiredError("--out");
    run_embed(*args);
  });
}

}  // namespace imret::cli
