// imret embed: embeddings of a dataset split with a trained checkpoint.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <tuple>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/core/runtime.hpp"
#include "imret/data/loader.hpp"
#include "imret/pipeline/embed_job.hpp"

namespace imret::cli {
namespace {

struct EmbedArgs {
  pipeline::EmbedRequest request;
  PreprocessArgs preprocess;
  std::string out;
  std::string device = "cpu";
  std::string on_bad_image = "skip";
  std::string shard;
};

struct MergeArgs {
  std::vector<std::string> shards;
  std::string out;
};

void run_embed(const EmbedArgs& args) {
  pipeline::EmbedRequest request = args.request;
  request.preprocess = args.preprocess;
  request.options.device = parse_device(args.device);
  request.options.on_bad_image = data::parse_bad_image_policy(args.on_bad_image);
  request.options.label = "embed " + request.split;
  request.options.channels_last = true;
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
  CLI::App* command = app.add_subcommand("embed", "Embed a dataset split with a checkpoint (-> .npy + items.jsonl)");
  command->add_option("-c,--checkpoint", args->request.checkpoint, "Checkpoint (.safetensors) written by imret train");
  command->add_option("--arch", args->request.arch, "With --weights: the network (resnet18/34/50/101, convnet)")
      ->check(CLI::IsMember(models::known_architectures()));
  command->add_option("--weights", args->request.weights, "Weights for --arch (torchvision .pth or safetensors)");
  add_weights_prefix_option(*command, args->request.weights_prefix);
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
