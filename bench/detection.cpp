// Faster R-CNN and Mask R-CNN (ResNet-50 FPN) inference, one 480 x 640 image
// at a time at torchvision's default size (short side 800): imret vs
// torchvision in Python on the same weights, images and threads, in one run.
// With --device cuda, both on the GPU (PyTorch with CUDA as the peer).
//
//   build/bench/imret_bench_detection [--images 8] [--threads N] [--arch fasterrcnn|maskrcnn|both]
//                                     [--device cpu|cuda] [--no-peer]
//
// The weights (random, as the parity tests make them) and images are written
// once by the peer script to /tmp/imret_bench_detection_<images>.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include "imret/core/npy.hpp"
#include "imret/core/runtime.hpp"
#include "imret/detect/detector.hpp"
#include "options.hpp"

namespace fs = std::filesystem;

namespace {

double peer_seconds(const std::string& peer, const fs::path& folder, const std::string& arch, int threads,
                    const torch::Device& device) {
  const std::string command =
      peer + " time " + folder.string() + " " + arch + " " + std::to_string(threads) + " " + device.str();
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return -1;
  double seconds = -1;
  long detections = 0;
  if (std::fscanf(pipe, "seconds_per_image %lf detections %ld", &seconds, &detections) != 2) seconds = -1;
  pclose(pipe);
  return seconds;
}

}  // namespace

int main(int argc, char** argv) {
  imret::bench::Options options;
  if (!imret::bench::parse_options(argc, argv, "detection", options)) return 2;
  const int64_t count = options.integer("images", 8);
  const int threads = imret::configure_threads(static_cast<int>(options.integer("threads", 0)));
  const std::string which = options.text("arch", "both");
  const torch::Device device = imret::parse_device(options.text("device", "cpu"));
  const std::string peer = std::string("/usr/bin/python3 ") + IMRET_SOURCE_DIR + "/bench/detection_peer.py";
  const fs::path folder = fs::temp_directory_path() / ("imret_bench_detection_" + std::to_string(count));
  // Ready when the last file the peer writes is there.
  if (!fs::exists(folder / ("image" + std::to_string(count - 1) + ".npy"))) {
    std::printf("writing weights and %lld images to %s\n", static_cast<long long>(count), folder.c_str());
    if (std::system((peer + " make " + folder.string() + " " + std::to_string(count)).c_str()) != 0) return 1;
  }
  std::vector<torch::Tensor> images;
  for (int64_t i = 0; i < count; ++i) {
    const imret::FloatMatrix m = imret::load_npy(folder / ("image" + std::to_string(i) + ".npy"));
    images.push_back(torch::tensor(m.values).reshape({3, 480, 640}));
  }

  std::printf("%lld images of 480 x 640 (resized to 800 x 1066), one at a time, %d threads, %s\n",
              static_cast<long long>(count), threads, device.str().c_str());
  std::printf("%-11s %14s %14s %8s %12s\n", "model", "imret s/img", "python s/img", "ratio", "detections");
  for (const std::string arch : {"fasterrcnn", "maskrcnn"}) {
    if (which != "both" && which != arch) continue;
    imret::detect::DetectorOptions detector_options;
    detector_options.bn_eps = 0.0;
    auto detector = imret::detect::Detector::load(folder / (arch + ".pth"), detector_options);
    detector->to(device);
    detector->detect({images[0]});  // warm-up
    if (device.is_cuda()) torch::cuda::synchronize();
    int64_t detections = 0;
    const auto begin = std::chrono::steady_clock::now();
    for (const auto& image : images) detections += detector->detect({image})[0].size();
    if (device.is_cuda()) torch::cuda::synchronize();
    const double ours =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count() / static_cast<double>(count);
    const double theirs = options.peer ? peer_seconds(peer, folder, arch, threads, device) : -1;
    if (options.peer && theirs < 0) std::fprintf(stderr, "the Python peer failed: %s time ...\n", peer.c_str());
    if (theirs > 0)
      std::printf("%-11s %14.3f %14.3f %7.2fx %12lld   (%.1f images/s)\n", arch.c_str(), ours, theirs, ours / theirs,
                  static_cast<long long>(detections), 1.0 / ours);
    else
      std::printf("%-11s %14.3f %14s %8s %12lld   (%.1f images/s)\n", arch.c_str(), ours, "-", "-",
                  static_cast<long long>(detections), 1.0 / ours);
  }
  return 0;
}
