// Search backends: imret exact search (LibTorch) vs FAISS Flat, IVF and HNSW
// (through imret's search::Index) and scikit-learn's NearestNeighbors (brute)
// as the Python peer, on the same vectors and threads, in one run.
//
//   build/bench/imret_bench_search_backends [--database DIR --queries DIR]
//       [--random 1000000] [--random-kind clustered|gaussian] [--dim 128]
//       [--random-queries 2000] [--k 10] [--threads N] [--no-peer] [--hnsw-m 32] [--ef-construction 40]
//       [--ivf-lists 1024] [--device cpu|cuda]
//
// --database/--queries: embedding folders (imret embed), e.g. Fashion-MNIST's
// 60k training and 10k test images. --random N: N x dim random vectors (seed
// 0; 0: skip) and --random-queries drawn the same way:
//  - clustered (default): a mixture of 1000 clusters, each a centre plus a
//    random 16-d subspace (plus a little full-dimensional noise): structure as
//    embeddings have it;
//  - gaussian: i.i.d. standard normal coordinates. No structure: a point's
//    nearest neighbours are barely nearer than any other point, so IVF
//    recall is low and FAISS builds HNSW about 15x slower (405 vectors/s
//    here: 1M would take 40 minutes).
// For each set: the build time (train + add) of each index, then queries/s
// of a top-k search of every query and recall@1/@10 against imret's exact
// search, for IVF at several nprobe and HNSW at several efSearch values.
// Ratios: imret exact / FAISS Flat, and each index against imret exact.
//
// --device cuda: imret's exact search runs on the GPU (queries from and
// results to the CPU, as a caller has them), and the peer is PyTorch on the
// same GPU (the same blocked matrix product + topk, in Python); FAISS stays on
// the CPU. A build without FAISS prints the exact rows and the peer only.
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "options.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/npy.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/runtime.hpp"
#include "imret/eval/search_comparison.hpp"
#include "imret/search/index.hpp"

namespace fs = std::filesystem;
using imret::search::SearchResult;

namespace {


struct Timed {
  SearchResult result;
  double queries_per_second = 0;
};

// Best of `repeats` searches (the first also warms the caches up), with
// per-call `params` (nprobe, efSearch).
Timed timed_search(const imret::search::Index& index, const at::Tensor& queries, int64_t k, int repeats,
                   const imret::search::SearchParams& params = {}) {
  Timed best;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    SearchResult result = index.search(queries, k, params);
    const double qps = static_cast<double>(queries.size(0)) / imret::seconds_since(start);
    if (qps > best.queries_per_second) best = {std::move(result), qps};
  }
  return best;
}

void print_row(const std::string& name, double build_seconds, const Timed& timed, const SearchResult& truth,
               double exact_qps) {
  std::printf("  %-34s build %7.2f s  %9.0f queries/s  recall@1 %.4f  recall@10 %.4f  x%.2f exact\n", name.c_str(),
              build_seconds, timed.queries_per_second, imret::eval::recall_against(timed.result, truth, 1),
              imret::eval::recall_against(timed.result, truth, 10), timed.queries_per_second / exact_qps);
  std::fflush(stdout);
}

struct Built {
  std::unique_ptr<imret::search::Index> index;
  double seconds = 0;
};

Built build(const std::string& spec, const at::Tensor& database, int64_t ef_construction = 0,
            c10::Device device = torch::kCPU) {
  const auto start = std::chrono::steady_clock::now();
  auto index = imret::search::make_index(spec, device);
  if (ef_construction > 0) index->set_parameter("efConstruction", static_cast<double>(ef_construction));
  if (index->needs_training()) index->train(database);
  index->add(database);
  return {std::move(index), imret::seconds_since(start)};
}

// scikit-learn's NearestNeighbors(algorithm="brute") on the same vectors (or
// PyTorch on the GPU for --device cuda); returns its queries/s and writes its
// ids for the recall check.
double peer_queries_per_second(const at::Tensor& database, const at::Tensor& queries, int64_t k, int threads,
                               const SearchResult& truth, c10::Device device) {
  const fs::path dir = fs::temp_directory_path() / ("imret_bench_search_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const at::Tensor db = database.contiguous(), q = queries.contiguous();
  imret::save_npy(dir / "database.npy", db.data_ptr<float>(), db.size(0), db.size(1));
  imret::save_npy(dir / "queries.npy", q.data_ptr<float>(), q.size(0), q.size(1));
  const std::string command = "OMP_NUM_THREADS=" + std::to_string(threads) +
                              " OPENBLAS_NUM_THREADS=" + std::to_string(threads) + " /usr/bin/python3 " +
                              IMRET_SOURCE_DIR + "/bench/search_backends_peer.py " + dir.string() + " " +
                              std::to_string(k) + " " + std::to_string(threads) +
                              (device.is_cuda() ? " cuda" : "");
  const std::string name = device.is_cuda() ? "PyTorch mm + topk (CUDA)" : "scikit-learn NearestNeighbors brute";
  FILE* pipe = popen(command.c_str(), "r");
  double qps = 0;
  if (!pipe || std::fscanf(pipe, "%lf", &qps) != 1 || pclose(pipe) != 0) {
    std::fprintf(stderr, "the peer failed: %s\n", command.c_str());
    fs::remove_all(dir);
    return 0;
  }
  const imret::FloatMatrix ids = imret::load_npy(dir / "ids.npy");
  SearchResult peer;
  peer.ids = torch::from_blob(const_cast<float*>(ids.values.data()), {ids.rows, ids.cols}, torch::kFloat32)
                 .to(torch::kInt64);
  std::printf("  %-34s build %7s    %9.0f queries/s  recall@1 %.4f  recall@10 %.4f\n", name.c_str(), "-", qps,
              imret::eval::recall_against(peer, truth, 1), imret::eval::recall_against(peer, truth, 10));
  fs::remove_all(dir);
  return qps;
}

void run_faiss_rows(const at::Tensor& database, const at::Tensor& queries, int64_t k, int repeats,
                    const SearchResult& truth, double exact_qps, int64_t hnsw_m, int64_t ivf_lists,
                    int64_t ef_construction) {
  Built flat = build("faiss:Flat", database);
  const Timed flat_timed = timed_search(*flat.index, queries, k, repeats);
  print_row("FAISS Flat", flat.seconds, flat_timed, truth, exact_qps);
  flat.index.reset();

  const std::string ivf_spec = "faiss:IVF" + std::to_string(ivf_lists) + ",Flat";
  Built ivf = build(ivf_spec, database);
  for (int nprobe : {1, 4, 16, 64})
    print_row(ivf_spec.substr(6) + " nprobe " + std::to_string(nprobe), ivf.seconds,
              timed_search(*ivf.index, queries, k, repeats, {{"nprobe", nprobe}}), truth, exact_qps);
  ivf.index.reset();

  const std::string hnsw_spec = "faiss:HNSW" + std::to_string(hnsw_m);
  Built hnsw = build(hnsw_spec, database, ef_construction);
  for (int ef : {16, 32, 64, 96, 128, 256, 512})
    print_row(hnsw_spec.substr(6) + (ef_construction > 0 ? ",efC " + std::to_string(ef_construction) : "") +
                  " efSearch " + std::to_string(ef),
              hnsw.seconds, timed_search(*hnsw.index, queries, k, repeats, {{"efSearch", ef}}), truth, exact_qps);
  hnsw.index.reset();
  std::printf("  ratio imret exact / FAISS Flat: %.2f\n", exact_qps / flat_timed.queries_per_second);
}

void run_set(const std::string& title, const at::Tensor& database, const at::Tensor& queries, int64_t k, int threads,
             bool peer, int64_t hnsw_m, int64_t ivf_lists, int64_t ef_construction, c10::Device device) {
  const int64_t n = database.size(0);
  if (ivf_lists <= 0) ivf_lists = 1024;  // about sqrt(N) for 1M; k-means on 2 cores stays under a minute
  std::printf("\n%s: %lld x %lld database, %lld queries, top %lld, %d threads\n", title.c_str(),
              static_cast<long long>(n), static_cast<long long>(database.size(1)),
              static_cast<long long>(queries.size(0)), static_cast<long long>(k), threads);
  const int repeats = n >= 500000 && !device.is_cuda() ? 1 : 3;
  Built exact = build("exact", database, 0, device);
  const Timed exact_timed = timed_search(*exact.index, queries, k, repeats);
  const SearchResult& truth = exact_timed.result;
  const double exact_qps = exact_timed.queries_per_second;
  print_row(device.is_cuda() ? "imret exact (LibTorch, CUDA)" : "imret exact (LibTorch)", exact.seconds, exact_timed,
            truth, exact_qps);
  exact.index.reset();

  if (imret::search::has_faiss())
    run_faiss_rows(database, queries, k, repeats, truth, exact_qps, hnsw_m, ivf_lists, ef_construction);
  else
    std::printf("  (FAISS rows: this build has no FAISS)\n");

  if (peer) {
    const double peer_qps = peer_queries_per_second(database, queries, k, threads, truth, device);
    if (peer_qps > 0)
      std::printf("  ratio imret exact / %s: %.2f\n", device.is_cuda() ? "PyTorch" : "scikit-learn", exact_qps / peer_qps);
  }
}

// n vectors of the clustered mixture described above (the same mixture for
// every call: the generator is seeded per call by `seed`, the mixture by 0).
at::Tensor clustered_vectors(int64_t n, int64_t dim, uint64_t seed) {
  constexpr int64_t kClusters = 1000, kSubspace = 16, kChunk = 20000;
  torch::manual_seed(0);
  const at::Tensor centres = torch::randn({kClusters, dim});
  const at::Tensor bases = torch::randn({kClusters, kSubspace, dim}) / 4;
  torch::manual_seed(static_cast<int64_t>(seed));
  std::vector<at::Tensor> parts;
  for (int64_t start = 0; start < n; start += kChunk) {
    const int64_t count = std::min(kChunk, n - start);
    const at::Tensor labels = torch::randint(kClusters, {count}, torch::kLong);
    const at::Tensor coefficients = torch::randn({count, 1, kSubspace});
    parts.push_back(centres.index_select(0, labels) +
                    torch::bmm(coefficients, bases.index_select(0, labels)).squeeze(1) + 0.1 * torch::randn({count, dim}));
  }
  return torch::cat(parts);
}

at::Tensor embeddings_of(const std::string& folder) {
  imret::EmbeddingSet set = imret::load_embedding_set(folder);
  return torch::from_blob(set.embeddings.values.data(), {set.embeddings.rows, set.embeddings.cols}, torch::kFloat32)
      .clone();
}

}  // namespace

int main(int argc, char** argv) {
  imret::bench::Options options;
  if (!imret::bench::parse_options(argc, argv, "search_backends", options)) return 2;
  const auto option = [&](const std::string& name, int64_t fallback) { return options.integer(name, fallback); };
  const bool peer = options.peer;
  try {
    const int threads = imret::configure_threads(static_cast<int>(option("threads", 0)));
    const c10::Device device = imret::parse_device(options.text("device", "cpu"));
    const int64_t k = option("k", 10);
    const int64_t hnsw_m = option("hnsw-m", 32), ivf_lists = option("ivf-lists", 0);
    const int64_t ef_construction = option("ef-construction", 0);
    if (options.has("database") != options.has("queries")) {
      std::fprintf(stderr, "--database and --queries go together\n");
      return 2;
    }
    if (options.has("database"))
      run_set("embeddings " + options.values.at("database"), embeddings_of(options.values.at("database")),
              embeddings_of(options.values.at("queries")), k, threads, peer, hnsw_m, ivf_lists, ef_construction, device);
    const int64_t random = option("random", 1000000);
    if (random > 0) {
      const int64_t dim = option("dim", 128), count = option("random-queries", 2000);
      const std::string kind = options.text("random-kind", "clustered");
      at::Tensor database, queries;
      if (kind == "gaussian") {
        torch::manual_seed(0);
        database = torch::randn({random, dim});
        queries = torch::randn({count, dim});
      } else if (kind == "clustered") {
        database = clustered_vectors(random, dim, 1);
        queries = clustered_vectors(count, dim, 2);
      } else {
        std::fprintf(stderr, "--random-kind: clustered or gaussian\n");
        return 2;
      }
      run_set("random " + kind + " vectors", database, queries, k, threads, peer, hnsw_m, ivf_lists, ef_construction, device);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
