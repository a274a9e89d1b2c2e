// Sharded search against one index, and against FAISS's own IndexShards.
//
//   build/bench/imret_bench_sharded_search [--n 200000] [--dim 64] [--queries 2000] [--k 10]
//                                         [--shards 1,2,4] [--repeat 3]
//
// A random N x D database (Gaussian, seed 0) and Q queries. For each backend
// (exact, faiss:Flat, faiss:IVF256,Flat with nprobe 16) and each number of
// shards S: search::ShardedIndex over S contiguous shards, searched in
// parallel (a thread each) and merged. Prints queries/s (best of --repeat),
// the ratio to the same backend with 1 shard, and, for Flat, FAISS's
// IndexShards (threaded, successive ids) over the same shards in the same
// run, with the ratio imret / FAISS. On a 2-core machine the shards share the
// cores: sharding pays for itself when shards are on different hosts or when
// one index does not fit one machine's memory, not here.
#include <faiss/IndexFlat.h>
#include <faiss/IndexShards.h>
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <sstream>

#include "imret/core/runtime.hpp"
#include "imret/search/sharded_index.hpp"
#include "options.hpp"

namespace {

std::vector<int64_t> shard_counts(const std::string& text) {
  std::vector<int64_t> out;
  for (const std::string& item : imret::bench::split_list(text)) out.push_back(std::stoll(item));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  imret::bench::Options options;
  if (!imret::bench::parse_options(argc, argv, "sharded_search", options)) return 2;
  imret::configure_threads(0);
  const int64_t n = options.integer("n", 200000), d = options.integer("dim", 64);
  const int64_t q = options.integer("queries", 2000), k = options.integer("k", 10);
  const int64_t repeat = options.integer("repeat", 3);
  const std::vector<int64_t> counts = shard_counts(options.text("shards", "1,2,4"));
  torch::manual_seed(0);
  const at::Tensor database = torch::randn({n, d}), queries = torch::randn({q, d});
  std::printf("%lld x %lld database, %lld queries, k %lld, %d threads\n", static_cast<long long>(n),
              static_cast<long long>(d), static_cast<long long>(q), static_cast<long long>(k), torch::get_num_threads());
  std::printf("%-22s %6s %12s %10s %12s %8s\n", "backend", "shards", "queries/s", "vs 1 shard", "FAISS q/s", "imret/FAISS");
  for (const std::string spec : {"exact", "faiss:Flat", "faiss:IVF256,Flat"}) {
    double one_shard = 0;
    for (int64_t shards : counts) {
      auto index = imret::search::make_sharded_index(spec, torch::kCPU, imret::search::Metric::Euclidean, shards);
      if (index->needs_training()) index->train(database);
      if (spec.find("IVF") != std::string::npos) index->set_parameter("nprobe", 16);
      index->add(database);
      const double ours = q / imret::bench::best_seconds(repeat, [&] { index->search(queries, k); });
      if (shards == counts.front()) one_shard = ours;
      std::string peer = "-", ratio = "-";
      if (spec == "faiss:Flat" && options.peer) {
        faiss::IndexShards theirs(d, /*threaded=*/true, /*successive_ids=*/true);
        std::vector<std::unique_ptr<faiss::IndexFlatL2>> parts;
        for (int64_t s = 0; s < shards; ++s) {
          const int64_t begin = n * s / shards, end = n * (s + 1) / shards;
          parts.push_back(std::make_unique<faiss::IndexFlatL2>(d));
          parts.back()->add(end - begin, database.data_ptr<float>() + begin * d);
          theirs.add_shard(parts.back().get());
        }
        std::vector<float> distances(static_cast<size_t>(q * k));
        std::vector<faiss::Index::idx_t> labels(static_cast<size_t>(q * k));
        const double faiss_qps = q / imret::bench::best_seconds(repeat, [&] {
          theirs.search(q, queries.data_ptr<float>(), k, distances.data(), labels.data());
        });
        char text[64];
        std::snprintf(text, sizeof text, "%.0f", faiss_qps);
        peer = text;
        std::snprintf(text, sizeof text, "%.2fx", ours / faiss_qps);
        ratio = text;
      }
      std::printf("%-22s %6lld %12.0f %9.2fx %12s %8s\n", spec.c_str(), static_cast<long long>(shards), ours,
                  ours / one_shard, peer.c_str(), ratio.c_str());
      std::fflush(stdout);
    }
  }
  return 0;
}
