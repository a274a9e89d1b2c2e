// imret embed: embeddings of a dataset split with a trained checkpoint.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/cli/pipeline.hpp"
#include "imret/core/error.hpp"
#include "imret/core/tensor_file.hpp"
#include "imret/models/pretrained.hpp"
#include "imret/core/runtime.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/loader.hpp"

namespace imret::cli {
namespace {

struct EmbedArgs {
  std::string checkpoint;
  std::string arch;
  std::string weights;
  std::vector<std::string> weights_prefix;
  PreprocessArgs preprocess;
  std::string data = data::kDefaultFashionMnist;
  std::string split = "test";
  std::string out;
  int64_t batch_size = 256;
  int workers = 2;
  std::string device = "cpu";
  std::string on_bad_image = "skip";
};

// A network built from --arch and loaded from --weights (e.g. torchvision's
// ImageNet ResNet-50): its embedding is the pooled feature vector, with
// torchvision's ImageNet preprocessing unless --resize/--crop/--mean/--std say otherwise.
models::LoadedNetwork network_from_weights(const EmbedArgs& args, int64_t channels) {
  TensorFile weights = load_tensor_file(args.weights);
  models::apply_prefix_rules(weights, args.weights_prefix);
  models::LoadedNetwork loaded;
  loaded.info.spec.arch = args.arch;
  loaded.info.spec.in_channels = channels;
  loaded.info.spec.num_classes = std::max<int64_t>(1, models::classifier_outputs(weights));
  loaded.info.preprocess = args.preprocess.resolve(channels).to_json();
  loaded.network = models::make_network(loaded.info.spec);
  models::load_pretrained(*loaded.network, std::move(weights), args.weights, {});
  return loaded;
}

void run_embed(const EmbedArgs& args) {
  if (args.checkpoint.empty() == args.weights.empty())
    throw UsageError("give either --checkpoint (from imret train) or --arch with --weights");
  if (!args.weights.empty() && args.arch.empty()) throw UsageError("--weights needs --arch (e.g. resnet50)");
  if (!args.checkpoint.empty() && (args.preprocess.given() || !args.arch.empty()))
    throw UsageError("--checkpoint carries its network and preprocessing: --arch/--resize/--crop/--mean/--std go with --weights");
  std::shared_ptr<data::Dataset> dataset;
  models::LoadedNetwork loaded;
  if (!args.checkpoint.empty()) {
    loaded = models::load_checkpoint(args.checkpoint);
    dataset = data::open_dataset(args.data, args.split, loaded.info.classes);
  } else {
    dataset = data::open_dataset(args.data, args.split);
    loaded = network_from_weights(args, dataset->channels());
  }
  nlohmann::json meta = {{"data", args.data}, {"split", args.split}};
  if (!args.checkpoint.empty()) {
    meta["checkpoint"] = std::filesystem::absolute(args.checkpoint).string();
  } else {
    meta["weights"] = std::filesystem::absolute(args.weights).string();
    meta["weights_prefix"] = args.weights_prefix;
  }
  models::EmbedOptions options;
  options.batch_size = args.batch_size;
  options.workers = args.workers;
  options.device = parse_device(args.device);
  options.on_bad_image = data::parse_bad_image_policy(args.on_bad_image);
  options.label = "embed " + args.split;
  options.channels_last = true;
  std::vector<std::filesystem::path> inputs = {args.data};
  if (!args.checkpoint.empty()) inputs.push_back(args.checkpoint);
  if (!args.weights.empty()) inputs.push_back(args.weights);
  const int64_t count = embed_to_folder(loaded, dataset, meta, options, args.out, inputs);
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
  command->add_option("-c,--checkpoint", args->checkpoint, "Checkpoint (.safetensors) written by imret train");
  command->add_option("--arch", args->arch, "With --weights: the network (resnet18/34/50/101, convnet)")
      ->check(CLI::IsMember(models::known_architectures()));
  command->add_option("--weights", args->weights, "Weights for --arch (torchvision .pth or safetensors)");
  add_weights_prefix_option(*command, args->weights_prefix);
  args->preprocess.add_options(*command);
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
