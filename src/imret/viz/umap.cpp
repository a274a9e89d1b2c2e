#include "imret/viz/umap.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <chrono>

#include "imret/core/error.hpp"
#include "imret/core/progress.hpp"
#include "imret/viz/umap_graph.hpp"
#include "imret/viz/umap_layout.hpp"
#include "imret/viz/umap_spectral.hpp"

namespace imret::viz {
namespace {

std::string number(double value) {
  std::string text = std::to_string(value);
  text.erase(text.find_last_not_of('0') + 1);
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

}  // namespace

void check_umap_options(const UmapOptions& o, int64_t points) {
  if (o.n_neighbors < 2) throw UsageError("UMAP n_neighbors " + std::to_string(o.n_neighbors) + ": must be at least 2");
  if (o.n_neighbors >= points)
    throw UsageError("UMAP n_neighbors " + std::to_string(o.n_neighbors) + ": must be less than the " +
                     std::to_string(points) + " points");
  if (o.n_components < 1) throw UsageError("UMAP n_components must be at least 1");
  if (o.min_dist < 0) throw UsageError("UMAP min_dist " + number(o.min_dist) + ": cannot be negative");
  if (o.spread <= 0) throw UsageError("UMAP spread " + number(o.spread) + ": must be positive");
  if (o.min_dist > o.spread)
    throw UsageError("UMAP min_dist " + number(o.min_dist) + ": must be at most spread (" + number(o.spread) + ")");
  if (o.n_epochs < 0) throw UsageError("UMAP n_epochs cannot be negative (0: auto)");
  if (!(o.learning_rate > 0)) throw UsageError("UMAP learning_rate " + number(o.learning_rate) + ": must be positive");
  if (o.negative_sample_rate < 0) throw UsageError("UMAP negative_sample_rate cannot be negative");
  if (o.repulsion_strength < 0) throw UsageError("UMAP repulsion_strength cannot be negative");
  if (o.local_connectivity < 0) throw UsageError("UMAP local_connectivity cannot be negative");
  if (o.set_op_mix_ratio < 0 || o.set_op_mix_ratio > 1)
    throw UsageError("UMAP set_op_mix_ratio " + number(o.set_op_mix_ratio) + ": must be between 0 and 1");
  if (o.init != "spectral" && o.init != "random") throw UsageError("UMAP init " + o.init + ": expected spectral or random");
  if (o.metric != "euclidean" && o.metric != "cosine")
    throw UsageError("UMAP metric " + o.metric + ": expected euclidean or cosine");
  if (o.neighbours != "auto" && o.neighbours != "exact" && o.neighbours != "projected" && o.neighbours != "hnsw")
    throw UsageError("UMAP neighbours " + o.neighbours + ": expected auto, exact, projected or hnsw");
}

UmapResult umap(const at::Tensor& data_in, const UmapOptions& options) {
  using namespace umap_detail;
  if (data_in.dim() != 2) throw UsageError("UMAP: the data must be an N x D matrix");
  const at::Tensor data = data_in.to(torch::kFloat32).contiguous();
  const int64_t n = data.size(0), dim = options.n_components;
  check_umap_options(options, n);
  if (!torch::isfinite(data).all().item<bool>()) throw UsageError("UMAP: the data has NaN or infinite values");

  UmapResult result;
  auto start = std::chrono::steady_clock::now();
  const NeighbourGraph neighbours = nearest_neighbours(data, options.n_neighbors, options.metric, options.neighbours);
  result.neighbours = neighbours.method;
  result.neighbour_seconds = seconds_since(start);

  start = std::chrono::steady_clock::now();
  SparseGraph graph = fuzzy_simplicial_set(neighbours, options.local_connectivity, options.set_op_mix_ratio);
  // simplicial_set_embedding: the epochs, then edges too weak to be sampled
  // even once (weight < max / epochs) are dropped.
  const int64_t default_epochs = n <= 10000 ? 500 : 200;
  result.epochs = options.n_epochs > 0 ? options.n_epochs : default_epochs;
  float largest = 0;
  for (const float w : graph.values) largest = std::max(largest, w);
  const float threshold = largest / static_cast<float>(result.epochs > 10 ? result.epochs : default_epochs);
  {
    SparseGraph pruned;
    pruned.points = n;
    pruned.indptr.push_back(0);
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t e = graph.indptr[static_cast<size_t>(i)]; e < graph.indptr[static_cast<size_t>(i + 1)]; ++e)
        if (!(graph.values[static_cast<size_t>(e)] < threshold)) {
          pruned.indices.push_back(graph.indices[static_cast<size_t>(e)]);
          pruned.values.push_back(graph.values[static_cast<size_t>(e)]);
        }
      pruned.indptr.push_back(pruned.edges());
    }
    graph = std::move(pruned);
  }
  result.edges = graph.edges();
  result.graph_seconds = seconds_since(start);

  start = std::chrono::steady_clock::now();
  auto generator = at::detail::createCPUGenerator(options.seed);
  at::Tensor embedding;
  if (options.init == "random") {
    embedding = torch::rand({n, dim}, generator, torch::kFloat64) * 20.0 - 10.0;
    result.init = "random";
    int64_t components = 0;
    connected_components(graph, &components);
    result.components = components;
  } else {
    // One thread: the solver's many small products gain nothing from more,
    // and OpenMP's spinning workers cost seconds on a busy machine.
    const int threads = at::get_num_threads();
    at::set_num_threads(1);
    SpectralLayout layout;
    try {
      layout = spectral_layout(data, graph, dim, options.metric, options.seed);
    } catch (...) {
      at::set_num_threads(threads);
      throw;
    }
    at::set_num_threads(threads);
    result.components = layout.components;
    result.init = layout.method;
    // A little noise against local minima, as umap-learn adds.
    embedding = layout.coordinates * (10.0 / layout.coordinates.abs().max().item<double>());
    embedding = embedding.to(torch::kFloat32).to(torch::kFloat64) +
                torch::randn({n, dim}, generator, torch::kFloat64).mul(1e-4).to(torch::kFloat32).to(torch::kFloat64);
  }
  // Each column scaled to [0, 10].
  const at::Tensor low = std::get<0>(embedding.min(0, true)), high = std::get<0>(embedding.max(0, true));
  embedding = (10.0 * (embedding - low) / (high - low).clamp_min(1e-300)).to(torch::kFloat32).contiguous();
  result.init_seconds = seconds_since(start);

  start = std::chrono::steady_clock::now();
  const auto [a, b] = find_ab_params(options.spread, options.min_dist);
  result.a = a;
  result.b = b;
  LayoutOptions layout;
  layout.a = a;
  layout.b = b;
  layout.repulsion_strength = options.repulsion_strength;
  layout.learning_rate = options.learning_rate;
  layout.negative_sample_rate = static_cast<double>(options.negative_sample_rate);
  layout.epochs = result.epochs;
  layout.seed = options.seed;
  layout.progress = options.progress;
  const std::vector<double> per_sample = epochs_per_sample(graph.values, result.epochs);
  optimize_layout(embedding.data_ptr<float>(), dim, graph, per_sample, layout);
  result.layout_seconds = seconds_since(start);
  result.embedding = embedding;
  return result;
}

}  // namespace imret::viz
