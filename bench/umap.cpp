// UMAP: imret's (src/imret/viz/umap.hpp) against umap-learn 0.5.3's UMAP
// (bench/umap_peer.py) on the same points and defaults, in one run.
//
//   build/bench/imret_bench_umap [--n 10000] [--embeddings DIR] [--threads N]
//       [--neighbours auto|exact|hnsw] [--quality-sample 10000] [--no-peer]
//
// Points: the first --n rows of an embedding folder (imret embed) with
// --embeddings; otherwise Fashion-MNIST's test then training images
// (/usr/share/datasets/fashion-mnist, 70k in all) as 784 pixels in [0, 1], the
// first --n. Both sides get the same float32 matrix and seed 0. umap-learn runs
// in a fresh Python process: `import umap`, a first fit_transform (cold: numba
// compiles its functions) and a second one on the same data (warm); with
// random_state set it is single-threaded, as documented. Prints the seconds of
// each (the whole fit: neighbours, graph, initialisation, optimisation), the
// ratios, and trustworthiness (k = 10, on a random subset of --quality-sample
// points when N is larger: it needs all N^2 input ranks) and leave-one-out
// 10-NN accuracy of each 2-D map, computed by the same imret code.
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "options.hpp"
#include "points.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/npy.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/runtime.hpp"
#include "imret/data/idx.hpp"
#include "imret/viz/trustworthiness.hpp"
#include "imret/viz/umap.hpp"

namespace fs = std::filesystem;

namespace {

using bench::embedding_folder;
using bench::Points;

struct PeerFit {
  at::Tensor embedding;
  double import_seconds = 0, cold = 0, warm = 0;
};

PeerFit peer_fit(const fs::path& dir) {
  const std::string command = "/usr/bin/python3 " + std::string(IMRET_SOURCE_DIR) + "/bench/umap_peer.py " + dir.string();
  FILE* pipe = popen(command.c_str(), "r");
  PeerFit fit;
  if (!pipe || std::fscanf(pipe, "%lf %lf %lf", &fit.import_seconds, &fit.cold, &fit.warm) != 3 || pclose(pipe) != 0) {
    std::fprintf(stderr, "the peer failed: %s\n", command.c_str());
    return {};
  }
  const imret::FloatMatrix m = imret::load_npy(dir / "embedding.npy");
  fit.embedding = torch::from_blob(const_cast<float*>(m.values.data()), {m.rows, m.cols}, torch::kFloat32).clone();
  return fit;
}

void print_quality(const std::string& name, const std::string& seconds, const at::Tensor& embedding,
                   const Points& points, const at::Tensor& sample) {
  const double trust =
      imret::viz::trustworthiness(points.data.index_select(0, sample), embedding.index_select(0, sample), 10);
  std::printf("  %-12s %s  trustworthiness(10) %.4f", name.c_str(), seconds.c_str(), trust);
  if (!points.labels.empty()) std::printf("  10-NN accuracy in 2-D %.4f", imret::viz::knn_accuracy(embedding, points.labels, 10));
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  imret::bench::Options options;
  if (!imret::bench::parse_options(argc, argv, "umap", options)) return 2;
  const auto option = [&](const std::string& name, int64_t fallback) { return options.integer(name, fallback); };
  try {
    const int threads = imret::configure_threads(static_cast<int>(option("threads", 0)));
    const int64_t n = option("n", 10000), quality_sample = option("quality-sample", 10000);
    imret::viz::UmapOptions umap_options;
    umap_options.neighbours = options.text("neighbours", "auto");
    const Points points =
        options.has("embeddings") ? embedding_folder(options.values.at("embeddings"), n)
                                  : bench::fashion_mnist_pixels(n);
    const int64_t rows = points.data.size(0);
    std::printf("UMAP of %lld points (%s, %lld-D), %d threads\n", static_cast<long long>(rows), points.name.c_str(),
                static_cast<long long>(points.data.size(1)), threads);
    torch::manual_seed(0);
    const at::Tensor sample =
        rows > quality_sample ? torch::randperm(rows).slice(0, 0, quality_sample) : torch::arange(rows);
    if (rows > quality_sample)
      std::printf("  (trustworthiness on a random %lld of the points)\n", static_cast<long long>(quality_sample));

    const auto start = std::chrono::steady_clock::now();
    const imret::viz::UmapResult ours = imret::viz::umap(points.data, umap_options);
    const double seconds = imret::seconds_since(start);
    char text[256];
    std::snprintf(text, sizeof text, "%7.2f s (neighbours %.2f [%s], graph %.2f, init %.2f [%s], SGD %.2f)", seconds,
                  ours.neighbour_seconds, ours.neighbours.c_str(), ours.graph_seconds, ours.init_seconds,
                  ours.init.c_str(), ours.layout_seconds);
    print_quality("imret", text, ours.embedding, points, sample);
    if (!options.peer) return 0;

    const fs::path dir = fs::temp_directory_path() / ("imret_bench_umap_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    imret::save_npy(dir / "data.npy", points.data.data_ptr<float>(), rows, points.data.size(1));
    const PeerFit theirs = peer_fit(dir);
    fs::remove_all(dir);
    if (!theirs.embedding.defined()) return 1;
    std::snprintf(text, sizeof text, "%7.2f s warm (cold: %.2f s, after a %.2f s import)", theirs.warm, theirs.cold,
                  theirs.import_seconds);
    print_quality("umap-learn", text, theirs.embedding, points, sample);
    std::printf("  imret is x%.2f as fast as umap-learn warm, x%.2f as fast as cold (x%.2f with the import)\n",
                theirs.warm / seconds, theirs.cold / seconds, (theirs.cold + theirs.import_seconds) / seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
