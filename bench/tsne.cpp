// t-SNE: imret's (src/imret/viz/tsne.hpp) against scikit-learn 1.2's TSNE
// (bench/tsne_peer.py) on the same points, defaults and threads, in one run.
//
//   build/bench/imret_bench_tsne [--n 10000] [--embeddings DIR] [--threads N]
//       [--method barnes_hut|exact] [--quality-sample 10000] [--no-peer]
//
// Points: the first --n rows of an embedding folder (imret embed) with
// --embeddings; otherwise Fashion-MNIST's test then training images
// (/usr/share/datasets/fashion-mnist, 70k in all) as pixels in [0, 1],
// PCA-reduced to 50-D (the usual preprocessing before t-SNE), the first --n.
// Both sides get the same float32 matrix. Prints the seconds of each (the
// whole fit: neighbours, affinities, PCA init, optimisation), the ratio, the
// KL divergence, trustworthiness (k = 10, on a random subset of
// --quality-sample points when N is larger: it needs all N^2 input ranks) and
// leave-one-out 10-NN accuracy of each embedding, computed by the same imret code.
// imret's row also gives the CPU seconds of its fit (all threads): steadier
// than the wall clock on a busy machine, for comparing versions of imret.
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
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
#include "imret/viz/tsne.hpp"

namespace fs = std::filesystem;

namespace {

constexpr int64_t kPcaDimensions = 50;

using bench::embedding_folder;
using bench::Points;

// PCA to `dims` by the covariance's eigenvectors (D x D: cheap for pixels).
at::Tensor pca(const at::Tensor& x, int64_t dims) {
  const at::Tensor centred = x - x.mean(0, true);
  const at::Tensor covariance = centred.t().matmul(centred);
  const at::Tensor vectors = std::get<1>(torch::linalg_eigh(covariance.to(torch::kFloat64)));  // ascending
  return centred.matmul(vectors.flip(1).slice(1, 0, dims).to(torch::kFloat32)).contiguous();
}

Points fashion_mnist(int64_t n) {
  const Points pixels = bench::fashion_mnist_pixels(n);
  return {"Fashion-MNIST pixels, PCA 50-D", pca(pixels.data, kPcaDimensions), pixels.labels};
}

struct Fit {
  at::Tensor embedding;
  double seconds = 0;
  double kl = 0;
  double cpu_seconds = -1;  // < 0: not measured
};

// CPU seconds of this process so far, all threads together.
double cpu_seconds() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }

// scikit-learn's TSNE on data.npy in `dir`; an undefined embedding on failure.
Fit peer_fit(const fs::path& dir, const std::string& method, int threads) {
  const std::string command = "OMP_NUM_THREADS=" + std::to_string(threads) +
                              " OPENBLAS_NUM_THREADS=" + std::to_string(threads) + " /usr/bin/python3 " +
                              IMRET_SOURCE_DIR + "/bench/tsne_peer.py " + dir.string() + " " + method + " " +
                              std::to_string(threads);
  FILE* pipe = popen(command.c_str(), "r");
  Fit fit;
  if (!pipe || std::fscanf(pipe, "%lf %lf", &fit.seconds, &fit.kl) != 2 || pclose(pipe) != 0) {
    std::fprintf(stderr, "the peer failed: %s\n", command.c_str());
    return {};
  }
  const imret::FloatMatrix m = imret::load_npy(dir / "embedding.npy");
  fit.embedding = torch::from_blob(const_cast<float*>(m.values.data()), {m.rows, m.cols}, torch::kFloat32).clone();
  return fit;
}

void print_row(const std::string& name, const Fit& fit, const Points& points, const at::Tensor& sample) {
  const double trust =
      imret::viz::trustworthiness(points.data.index_select(0, sample), fit.embedding.index_select(0, sample), 10);
  std::printf("  %-26s %9.2f s  KL %.4f  trustworthiness(10) %.4f", name.c_str(), fit.seconds, fit.kl, trust);
  if (!points.labels.empty()) std::printf("  10-NN accuracy %.4f", imret::viz::knn_accuracy(fit.embedding, points.labels, 10));
  if (fit.cpu_seconds >= 0) std::printf("  (CPU %.2f s)", fit.cpu_seconds);
  std::printf("\n");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  imret::bench::Options options;
  if (!imret::bench::parse_options(argc, argv, "tsne", options)) return 2;
  const auto option = [&](const std::string& name, int64_t fallback) { return options.integer(name, fallback); };
  const bool peer = options.peer;
  try {
    const int threads = imret::configure_threads(static_cast<int>(option("threads", 0)));
    const int64_t n = option("n", 10000), quality_sample = option("quality-sample", 10000);
    imret::viz::TsneOptions tsne_options;
    tsne_options.method = options.text("method", "barnes_hut");
    const Points points =
        options.has("embeddings") ? embedding_folder(options.values.at("embeddings"), n) : fashion_mnist(n);
    const int64_t rows = points.data.size(0);
    std::printf("t-SNE of %lld points (%s, %lld-D), %s, %d threads\n", static_cast<long long>(rows),
                points.name.c_str(), static_cast<long long>(points.data.size(1)), tsne_options.method.c_str(),
                threads);
    torch::manual_seed(0);
    const at::Tensor sample =
        rows > quality_sample ? torch::randperm(rows).slice(0, 0, quality_sample) : torch::arange(rows);
    if (rows > quality_sample)
      std::printf("  (trustworthiness on a random %lld of the points)\n", static_cast<long long>(quality_sample));

    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    const imret::viz::TsneResult ours = imret::viz::tsne(points.data, tsne_options);
    const Fit imret_fit{ours.embedding, imret::seconds_since(start), ours.kl_divergence, cpu_seconds() - cpu_start};
    print_row("imret", imret_fit, points, sample);
    if (!peer) return 0;

    const fs::path dir = fs::temp_directory_path() / ("imret_bench_tsne_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    imret::save_npy(dir / "data.npy", points.data.data_ptr<float>(), rows, points.data.size(1));
    const Fit theirs = peer_fit(dir, tsne_options.method, threads);
    fs::remove_all(dir);
    if (!theirs.embedding.defined()) return 1;
    print_row("scikit-learn TSNE", theirs, points, sample);
    std::printf("  imret is x%.2f as fast as scikit-learn\n", theirs.seconds / imret_fit.seconds);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
