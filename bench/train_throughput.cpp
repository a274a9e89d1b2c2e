// Training throughput: imret's ConvNet training step (LibTorch) vs the same
// network and step in PyTorch (Debian's python3-torch), same data
// (Fashion-MNIST), batches, threads and device, in one run.
//
//   build/bench/imret_bench_train_throughput [--method classification|triplet] [--miner batch-hard|semi-hard]
//       [--batches 150] [--batch-size 128] [--threads N] [--rounds 3] [--peer-channels-last 1]
//       [--device cpu|cuda]
//
// --device cuda: the whole dataset is copied to the GPU once, by both; each
// step's loss is read back (loss.item()), which waits for the GPU.
//
// classification: cross-entropy on consecutive batches of --batch-size.
// triplet: P x K batches (10 classes x 25 images: image j of class c in batch
// b is that class's ((b * 25 + j) mod count)-th image), L2-normalised
// embeddings, Euclidean distance, margin 0.2, the miner, hinge loss averaged
// over the non-zero triplets; imret runs its own objective (learn::make_objective).
//
// imret runs its convolutions channels-last (NHWC), as imret train does. The
// PyTorch peer runs as a PyTorch script usually does (NCHW), or channels-last
// too with --peer-channels-last 1.
//
// The two alternate for --rounds rounds (so that a busy machine slows both
// alike); the best round of each is reported.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "imret/core/runtime.hpp"
#include "imret/data/idx.hpp"
#include "imret/learn/objective.hpp"
#include "imret/learn/optimizer.hpp"
#include "imret/models/channels_last.hpp"
#include "imret/models/network.hpp"

namespace {

constexpr int64_t kClasses = 10, kPerClass = 25;

// The indices of batch b: consecutive for classification, P x K otherwise.
torch::Tensor batch_indices(const std::vector<std::vector<int64_t>>& by_class, int64_t n, int64_t b,
                            int64_t batch_size, bool pk) {
  if (!pk)
    return torch::arange((b * batch_size) % (n - batch_size), (b * batch_size) % (n - batch_size) + batch_size,
                         torch::kLong);
  std::vector<int64_t> indices;
  for (int64_t c = 0; c < kClasses; ++c) {
    const auto& members = by_class[static_cast<size_t>(c)];
    for (int64_t j = 0; j < kPerClass; ++j)
      indices.push_back(members[static_cast<size_t>((b * kPerClass + j) % static_cast<int64_t>(members.size()))]);
  }
  return torch::tensor(indices, torch::kLong);
}

double imret_images_per_second(const torch::Tensor& images, const torch::Tensor& labels,
                               const std::vector<std::vector<int64_t>>& by_class, const imret::learn::TrainConfig& config,
                               int64_t batches, int64_t warmup, c10::Device device) {
  torch::manual_seed(0);
  imret::models::NetworkSpec spec{"convnet", 1, 10, 64};
  spec.embedding_relu = config.method == "classification";  // as imret train sets it
  auto network = imret::models::make_network(spec);
  network->to(device);
  imret::models::use_channels_last(*network);  // as imret train runs it
  network->train();
  auto objective = imret::learn::make_objective(config, 10, 64);
  objective->to(device);
  auto optimizer = imret::learn::make_optimizer(config, *network, *objective);  // Adam, lr 1e-3
  const bool pk = config.method != "classification";
  int64_t batch_size = pk ? kClasses * kPerClass : config.batch_size;
  auto step = [&](int64_t b) {
    const torch::Tensor index = batch_indices(by_class, images.size(0), b, batch_size, pk).to(device);
    torch::Tensor x = imret::models::channels_last(images.index_select(0, index));
    torch::Tensor y = labels.index_select(0, index);
    imret::learn::clear_gradients(*optimizer);
    torch::Tensor loss = objective->loss(*network, x, y).loss;
    loss.backward();
    optimizer->step();
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
  int64_t batches = 150, warmup = 10, rounds = 3;
  int threads = 0;
  bool peer_channels_last = false;
  std::string device_name = "cpu";
  imret::learn::TrainConfig config;
  config.batch_size = 128;
  config.margin = 0.2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--batches") batches = std::stoll(argv[i + 1]);
    else if (flag == "--batch-size") config.batch_size = std::stoll(argv[i + 1]);
    else if (flag == "--method") config.method = argv[i + 1];
    else if (flag == "--miner") config.miner = argv[i + 1];
    else if (flag == "--threads") threads = std::stoi(argv[i + 1]);
    else if (flag == "--rounds") rounds = std::stoll(argv[i + 1]);
    else if (flag == "--peer-channels-last") peer_channels_last = std::string(argv[i + 1]) == "1";
    else if (flag == "--device") device_name = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  threads = imret::configure_threads(threads);
  const c10::Device device = imret::parse_device(device_name);
  auto dataset = imret::data::load_mnist_folder(imret::data::kDefaultFashionMnist, "train");
  std::vector<int64_t> all(static_cast<size_t>(dataset->size()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  torch::Tensor images = (dataset->load_many(all) - 0.2860) / 0.3530;
  torch::Tensor labels = torch::tensor(dataset->labels(), torch::kLong);
  images = images.to(device);
  labels = labels.to(device);
  std::vector<std::vector<int64_t>> by_class(kClasses);
  for (int64_t i = 0; i < dataset->size(); ++i) by_class[static_cast<size_t>(dataset->label(i))].push_back(i);
  if (config.method != "classification" && config.method != "triplet") {
    std::fprintf(stderr, "--method: classification or triplet\n");
    return 2;
  }
  const std::string miner = imret::learn::effective_miner(config);
  const int64_t batch_size = config.method == "classification" ? config.batch_size : kClasses * kPerClass;

  const std::string script = std::string(IMRET_SOURCE_DIR) + "/bench/train_throughput_peer.py";
  const std::string command = "/usr/bin/python3 " + script + " --batches " + std::to_string(batches) + " --batch-size " +
                              std::to_string(batch_size) + " --threads " + std::to_string(threads) +
                              " --warmup " + std::to_string(warmup) + " --method " + config.method +
                              " --miner " + miner + " --device " + device_name +
                              (peer_channels_last ? " --channels-last" : "");
  double ours = 0, peer = 0;
  for (int64_t round = 1; round <= rounds; ++round) {
    const double ours_now = imret_images_per_second(images, labels, by_class, config, batches, warmup, device);
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
  std::printf("PyTorch (Python%s):          %8.0f img/s (best round)\n", peer_channels_last ? ", channels-last" : "", peer);
  std::printf("ratio imret/PyTorch:  %8.2f  (%s%s%s, batch %lld, %s, %d threads, %lld timed batches)\n", ours / peer,
              config.method.c_str(), miner == "-" ? "" : ", miner ", miner == "-" ? "" : miner.c_str(),
              static_cast<long long>(batch_size), device_name.c_str(), threads, static_cast<long long>(batches));
  return 0;
}
