// Training throughput on CPU: imret's ConvNet training step (LibTorch) vs
// the same network and step in PyTorch (Debian's python3-torch), same data
// (Fashion-MNIST), batch size and threads, in one run.
//
//   build/bench/imret_bench_train_throughput [--batches 150] [--batch-size 128] [--threads N] [--rounds 3]
//
// The two alternate for --rounds rounds (so that a busy machine slows both
// alike); the best round of each is reported.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "imret/core/runtime.hpp"
#include "imret/data/idx.hpp"
#include "imret/models/network.hpp"

namespace {

double imret_images_per_second(const torch::Tensor& images, const torch::Tensor& labels, int64_t batches,
                               int64_t batch_size, int64_t warmup) {
  torch::manual_seed(0);
  auto network = imret::models::make_network({"convnet", 1, 10, 64});
  network->train();
  torch::optim::Adam optimizer(network->parameters(), torch::optim::AdamOptions(1e-3));
  const int64_t n = images.size(0);
  auto step = [&](int64_t b) {
    const int64_t start = (b * batch_size) % (n - batch_size);
    torch::Tensor x = images.narrow(0, start, batch_size);
    torch::Tensor y = labels.narrow(0, start, batch_size);
    optimizer.zero_grad();
    torch::Tensor loss = torch::nn::functional::cross_entropy(network->forward(x), y);
    loss.backward();
    optimizer.step();
    return loss.item<double>();
  };
  for (int64_t b = 0; b < warmup; ++b) step(b);
  const auto begin = std::chrono::steady_clock::now();
  for (int64_t b = 0; b < batches; ++b) step(warmup + b);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  return static_cast<double>(batches * batch_size) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t batches = 150, batch_size = 128, warmup = 10, rounds = 3;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--batches") batches = std::stoll(argv[i + 1]);
    else if (flag == "--batch-size") batch_size = std::stoll(argv[i + 1]);
    else if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    else if (flag == "--rounds") rounds = std::stoll(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  threads = imret::configure_threads(threads);
  auto dataset = imret::data::load_mnist_folder(imret::data::kDefaultFashionMnist, "train");
  std::vector<int64_t> all(static_cast<size_t>(dataset->size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  torch::Tensor images = (dataset->load_many(all) - 0.2860) / 0.3530;
  torch::Tensor labels = torch::tensor(dataset->labels(), torch::kLong);

  const std::string script = std::string(IMRET_SOURCE_DIR) + "/bench/train_throughput_peer.py";
  const std::string command = "/usr/bin/python3 " + script + " --batches " + std::to_string(batches) + " --batch-size " +
                              std::to_string(batch_size) + " --threads " + std::to_string(threads) +
                              " --warmup " + std::to_string(warmup);
  double ours = 0, peer = 0;
  for (int64_t round = 1; round <= rounds; ++round) {
    const double ours_now = imret_images_per_second(images, labels, batches, batch_size, warmup);
    FILE* pipe = popen(command.c_str(), "r");
    double peer_now = 0;
    if (!pipe || std::fscanf(pipe, "%lf", &peer_now) != 1 || pclose(pipe) != 0) {
      std::fprintf(stderr, "the PyTorch peer failed: %s\n", command.c_str());
      return 1;
    }
    std::printf("round %lld: imret %.0f img/s, PyTorch %.0f img/s\n", static_cast<long long>(round), ours_now, peer_now);
    std::fflush(stdout);
    ours = std::max(ours, ours_now);
    peer = std::max(peer, peer_now);
  }
  std::printf("imret (LibTorch %s, C++): %8.0f img/s (best round)\n", TORCH_VERSION, ours);
  std::printf("PyTorch (Python):          %8.0f img/s (best round)\n", peer);
  std::printf("ratio imret/PyTorch:  %8.2f  (batch %lld, %d threads, %lld timed batches)\n", ours / peer,
              static_cast<long long>(batch_size), threads, static_cast<long long>(batches));
  return 0;
}
