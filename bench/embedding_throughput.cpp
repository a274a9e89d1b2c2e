// ResNet-50 embedding throughput at each --precision, imret against
// torchvision (channels-last + torch.autocast, the best Python users do), in
// one run, on the same device, batch size and weights:
//   tensors  a decoded batch already on the device, embedded again and again
//            (the network alone: what the chip gives);
//   jpeg     JPEG files (500x375) through decoding, Resize(256) +
//            CenterCrop(224) + Normalize on CPU threads, pinned memory and
//            the copy to the device (imret: models::embed_dataset as `imret
//            embed` runs it; torchvision: DataLoader workers, pin_memory,
//            non_blocking copies).
//
//   build/bench/imret_bench_embedding_throughput [--device cuda] [--precisions fp32,tf32,bf16,fp16]
//       [--source tensors,jpeg] [--batch 256] [--batches 30] [--images 4096] [--workers 12] [--no-peer]
//       [--fold both|on|off]
//
// --fold both (the default) adds, for resident tensors, imret with batch norm
// left apart from the convolutions (models/folded_batch_norm.hpp): what
// folding gains.
// Each line: "<source> <precision>: imret X img/s, torchvision Y img/s, ratio X/Y".
// On a CPU use small numbers (--device cpu --precisions fp32,bf16 --batch 8
// --batches 2 --images 32): bf16 there is emulated unless the CPU has AVX-512
// BF16 or AMX.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "imret/core/precision.hpp"
#include "imret/core/runtime.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/preprocess_defaults.hpp"
#include "imret/data/transforms.hpp"
#include "imret/models/autocast.hpp"
#include "imret/models/channels_last.hpp"
#include "imret/models/embed.hpp"
#include "imret/models/folded_batch_norm.hpp"
#include "imret/models/pretrained.hpp"
#include "options.hpp"

namespace fs = std::filesystem;

namespace {

void synchronize(const c10::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.index());
}

// Images/s of network.embed on one resident batch, after warm-up.
double tensors_throughput(imret::models::Network& network, const c10::Device& device, imret::Precision precision,
                          int64_t batch, int64_t batches) {
  network.eval();
  network.set_precision(precision);
  torch::InferenceMode inference;
  const torch::Tensor images = imret::models::channels_last(torch::rand({batch, 3, 224, 224}).to(device));
  for (int i = 0; i < 3; ++i) network.embed(images);
  synchronize(device);
  const auto begin = std::chrono::steady_clock::now();
  torch::Tensor last;
  for (int64_t i = 0; i < batches; ++i) last = network.embed(images);
  synchronize(device);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return static_cast<double>(batch * batches) / seconds;
}

double jpeg_throughput(imret::models::Network& network, const fs::path& folder, const c10::Device& device,
                       imret::Precision precision, int64_t batch, int workers) {
  auto dataset = imret::data::load_image_folder(folder, "train");
  // ImageNet's: resize 256, crop 224, its mean and std.
  const imret::data::Preprocess preprocess = imret::data::PreprocessChoice{}.resolve(3);
  imret::models::EmbedOptions options;
  options.batch_size = batch;
  options.workers = workers;
  options.device = device;
  options.precision = precision;
  options.channels_last = true;  // as imret embed runs it
  options.label = "jpeg " + imret::precision_name(precision);
  const auto begin = std::chrono::steady_clock::now();
  auto embedded = imret::models::embed_dataset(network, dataset, imret::data::make_eval_transform(preprocess), options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return static_cast<double>(embedded.indices.size()) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  imret::bench::Options options;
  if (!imret::bench::parse_options(argc, argv, "embedding_throughput", options)) return 2;
  try {
    const c10::Device device = imret::parse_device(options.text("device", "cuda"));
    const int64_t batch = options.integer("batch", 256), batches = options.integer("batches", 30);
    const int64_t images = options.integer("images", 4096);
    const int workers = static_cast<int>(options.integer("workers", 12));
    const auto precisions = imret::bench::split_list(options.text("precisions", "fp32,tf32,bf16,fp16"));
    const auto sources = imret::bench::split_list(options.text("source", "tensors,jpeg"));
    const std::string fold = options.text("fold", "both");
    if (fold != "both" && fold != "on" && fold != "off") throw std::runtime_error("--fold: both, on or off");
    imret::models::set_batch_norm_folding(fold != "off");
    const int threads = imret::configure_threads(0);
    const std::string peer =
        std::string("/usr/bin/python3 ") + IMRET_SOURCE_DIR + "/bench/embedding_throughput_peer.py";
    const std::string maker = std::string("/usr/bin/python3 ") + IMRET_SOURCE_DIR + "/bench/feature_extraction_peer.py";
    const fs::path folder = fs::temp_directory_path() / ("imret_bench_features_" + std::to_string(images));
    if (!fs::exists(folder / "resnet50.pth")) {
      std::printf("writing %lld JPEG files and ResNet-50 weights to %s\n", static_cast<long long>(images),
                  folder.c_str());
      std::fflush(stdout);
      if (std::system((maker + " make " + folder.string() + " " + std::to_string(images)).c_str()) != 0) return 1;
    }
    auto network = imret::models::make_network({"resnet50", 3, 1000, 0});
    imret::models::load_pretrained(*network, folder / "resnet50.pth", {});
    network->to(device);
    imret::models::use_channels_last(*network);
    imret::models::use_fastest_convolutions(device);
    std::printf("ResNet-50, batch %lld, device %s, LibTorch %s\n", static_cast<long long>(batch), device.str().c_str(),
                TORCH_VERSION);
    for (const std::string& source : sources)
      for (const std::string& name : precisions) {
        const imret::Precision precision = imret::parse_precision(name);
        imret::check_precision_on(precision, device);
        const double ours = source == "tensors" ? tensors_throughput(*network, device, precision, batch, batches)
                                                : jpeg_throughput(*network, folder, device, precision, batch, workers);
        std::printf("%-7s %-4s: imret %9.1f img/s", source.c_str(), name.c_str(), ours);
        if (source == "tensors" && fold == "both") {
          imret::models::set_batch_norm_folding(false);
          const double apart = tensors_throughput(*network, device, precision, batch, batches);
          imret::models::set_batch_norm_folding(true);
          std::printf(" (batch norm not folded: %9.1f)", apart);
        }
        std::fflush(stdout);
        if (options.peer) {
          const std::string command = peer + " " + source + " " + folder.string() + " " + device.str() + " " + name +
                                      " " + std::to_string(batch) + " " + std::to_string(batches) + " " +
                                      std::to_string(workers) + " " + std::to_string(threads);
          FILE* pipe = popen(command.c_str(), "r");
          double theirs = 0;
          if (!pipe || std::fscanf(pipe, "%lf", &theirs) != 1 || pclose(pipe) != 0) {
            std::printf("\n");
            std::fprintf(stderr, "the torchvision peer failed: %s\n", command.c_str());
            return 1;
          }
          std::printf(", torchvision %9.1f img/s, ratio %.2f", theirs, ours / theirs);
        }
        std::printf("\n");
        std::fflush(stdout);
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "embedding_throughput: %s\n", e.what());
    return 1;
  }
  return 0;
}
