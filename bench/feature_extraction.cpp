// ResNet-50 ImageNet feature extraction from JPEG files on disk (decode +
// resize 256 + center crop 224 + normalize + forward, fc removed): imret vs
// torchvision in Python (ImageFolder + DataLoader with workers), same files,
// weights, threads and batch size, in one run.
//
//   build/bench/imret_bench_feature_extraction [--images 256] [--batch 32] [--workers 2] [--threads N]
//                                              [--backbone native|torchscript]
//
// --backbone torchscript: both sides run the same traced ResNet-50 (fc
// removed, torch.jit.trace) instead, imret as `imret embed --model` does.
//
// The JPEG files (500x375, a typical photo size) and the weights are made once
// by the peer script in /tmp/imret_bench_features.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "imret/core/runtime.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/preprocess_defaults.hpp"
#include "imret/data/transforms.hpp"
#include "imret/models/embed.hpp"
#include "imret/models/pretrained.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  int64_t images = 256, batch = 32;
  int workers = 2, threads = 0;
  std::string backbone = "native";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--images") images = std::stoll(argv[i + 1]);
    else if (flag == "--batch") batch = std::stoll(argv[i + 1]);
    else if (flag == "--workers") workers = std::stoi(argv[i + 1]);
    else if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    else if (flag == "--backbone") backbone = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  threads = imret::configure_threads(threads);
  const std::string peer = std::string("/usr/bin/python3 ") + IMRET_SOURCE_DIR + "/bench/feature_extraction_peer.py";
  const fs::path folder = fs::temp_directory_path() / ("imret_bench_features_" + std::to_string(images));
  if (!fs::exists(folder / "resnet50.pth")) {
    std::printf("writing %lld JPEG files and ResNet-50 weights to %s\n", static_cast<long long>(images), folder.c_str());
    if (std::system((peer + " make " + folder.string() + " " + std::to_string(images)).c_str()) != 0) return 1;
  }

  std::shared_ptr<imret::models::Network> network;
  fs::path weights = folder / "resnet50.pth";
  if (backbone == "torchscript") {
    weights = folder / "resnet50.pt";
    if (!fs::exists(weights) && std::system((peer + " trace " + folder.string()).c_str()) != 0) return 1;
    imret::models::NetworkSpec spec;
    spec.arch = "torchscript";
    spec.in_channels = 3;
    spec.num_classes = 1;
    spec.model = weights.string();
    network = imret::models::make_network(spec);
  } else if (backbone == "native") {
    network = imret::models::make_network({"resnet50", 3, 1000, 0});
    imret::models::load_pretrained(*network, weights, {});
  } else {
    std::fprintf(stderr, "--backbone: native or torchscript\n");
    return 2;
  }
  auto dataset = imret::data::load_image_folder(folder, "train");
  // ImageNet's: resize 256, crop 224, its mean and std.
  const imret::data::Preprocess preprocess = imret::data::PreprocessChoice{}.resolve(3);
  imret::models::EmbedOptions options;
  options.batch_size = batch;
  options.workers = workers;
  options.channels_last = true;  // as imret embed runs it
  const auto begin = std::chrono::steady_clock::now();
  auto embedded = imret::models::embed_dataset(*network, dataset, imret::data::make_eval_transform(preprocess), options);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  const double ours = static_cast<double>(embedded.indices.size()) / seconds;
  std::printf("imret:       %7.2f img/s (%s, %lld images, batch %lld, %d workers, %d threads)\n", ours, backbone.c_str(),
              static_cast<long long>(embedded.indices.size()), static_cast<long long>(batch), workers, threads);
  std::fflush(stdout);

  const std::string command = peer + " run " + folder.string() + " " + weights.string() + " " +
                              std::to_string(threads) + " " + std::to_string(workers) + " " + std::to_string(batch);
  FILE* pipe = popen(command.c_str(), "r");
  double theirs = 0;
  if (!pipe || std::fscanf(pipe, "%lf", &theirs) != 1 || pclose(pipe) != 0) {
    std::fprintf(stderr, "the torchvision peer failed: %s\n", command.c_str());
    return 1;
  }
  std::printf("torchvision: %7.2f img/s (DataLoader, %d workers)\n", theirs, workers);
  std::printf("ratio imret/torchvision: %.2f\n", ours / theirs);
  return 0;
}
