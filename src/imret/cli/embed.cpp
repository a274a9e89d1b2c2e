// imret embed: embeddings of a dataset split with a trained checkpoint.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "imret/cli/commands.hpp"
#include "imret/cli/pipeline.hpp"
#include "imret/core/runtime.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/loader.hpp"

namespace imret::cli {
namespace {

struct EmbedArgs {
  std::string checkpoint;
  std::string data = data::kDefaultFashionMnist;
  std::string split = "test";
  std::string out;
  int64_t batch_size = 256;
  int workers = 2;
  std::string device = "cpu";
  std::string on_bad_image = "skip";
};

void run_embed(const EmbedArgs& args) {
  models::LoadedNetwork loaded = models::load_checkpoint(args.checkpoint);
  auto dataset = data::open_dataset(args.data, args.split, loaded.info.classes);
  models::EmbedOptions options;
  options.batch_size = args.batch_size;
  options.workers = args.workers;
  options.device = parse_device(args.device);
  options.on_bad_image = data::parse_bad_image_policy(args.on_bad_image);
  options.label = "embed " + args.split;
  const int64_t count = embed_to_folder(loaded, args.checkpoint, dataset,
                                        {{"data", args.data}, {"split", args.split}}, options, args.out);
  std::printf("embedded %lld of %lld images (%lld-d) -> %s/{embeddings.npy,items.jsonl,meta.json}\n",
              static_cast<long long>(count), static_cast<long long>(dataset->size()),
              static_cast<long long>(loaded.network->embedding_dim()), args.out.c_str());
  if (count < dataset->size())
    std::printf("%lld bad images skipped (listed in meta.json)\n", static_cast<long long>(dataset->size() - count));
}

}  // namespace

void add_embed_command(CLI::App& app) {
  auto args = std::make_shared<EmbedArgs>();
  CLI::App* command = app.add_subcommand("embed", "Embed a dataset split with a checkpoint (-> .npy + items.jsonl)");
  command->add_option("-c,--checkpoint", args->checkpoint, "Checkpoint (.safetensors) written by imret train")->required();
  command->add_option("--data", args->data, "Dataset folder (IDX or image folder)")->capture_default_str();
  command->add_option("--split", args->split, "Split to embed")->capture_default_str();
  command->add_option("-o,--out", args->out, "Output folder")->required();
  command->add_option("--batch-size", args->batch_size, "Batch size")->capture_default_str();
  command->add_option("--workers", args->workers, "Data loader threads")->capture_default_str();
  command->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--on-bad-image", args->on_bad_image, "skip (and report) or fail")
      ->check(CLI::IsMember({"skip", "fail"}))
      ->capture_default_str();
  command->callback([args] { run_embed(*args); });
}

}  // namespace imret::cli
