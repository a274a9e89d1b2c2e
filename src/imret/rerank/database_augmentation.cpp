#include <torch/torch.h>

#include <algorithm>
#include <sstream>

#include "imret/core/error.hpp"
#include "imret/rerank/methods.hpp"
#include "imret/rerank/neighbour_graph.hpp"
#include "imret/search/exact_index.hpp"
#include "imret/search/similarity.hpp"

namespace imret::rerank {

DatabaseAugmentation::DatabaseAugmentation(int64_t k, double alpha) : k_(k), alpha_(alpha) {
  if (k < 0 || alpha < 0) throw UsageError("dba: k and alpha must not be negative");
}

std::string DatabaseAugmentation::spec() const {
  std::ostringstream out;
  out << "dba:k=" << k_ << ",alpha=" << spec_number(alpha_);
  return out.str();
}

at::Tensor DatabaseAugmentation::augment_database(const at::Tensor& vectors, search::Metric metric) const {
  search::check_embeddings(vectors, "dba: database");
  if (k_ == 0 || vectors.size(0) < 2) return vectors;
  search::ExactIndex index(metric);
  index.add(vectors);
  const NeighbourGraph graph = neighbour_graph(index, std::min<int64_t>(k_, vectors.size(0) - 1));
  const at::Tensor x = vectors.to(torch::kCPU, torch::kFloat32).contiguous();
  const at::Tensor stored = metric == search::Metric::Cosine ? search::unit_rows(x) : x;
  const int64_t n = graph.items, k = graph.k;
  const at::Tensor ids = torch::from_blob(const_cast<int64_t*>(graph.ids.data()), {n, k}, torch::kLong);
  const at::Tensor cosines = torch::from_blob(const_cast<float*>(graph.cosines.data()), {n, k}, torch::kFloat32);
  at::Tensor out = torch::empty_like(stored);
  // Blocks of rows: the neighbours of a block (rows x k x D) stay near 32M values.
  const int64_t block = std::max<int64_t>(1, (int64_t{1} << 25) / std::max<int64_t>(k * stored.size(1), 1));
  for (int64_t first = 0; first < n; first += block) {
    const int64_t rows = std::min(block, n - first);
    const at::Tensor id = ids.narrow(0, first, rows);
    const at::Tensor weights = cosines.narrow(0, first, rows).clamp_min(0).pow(alpha_) * (id >= 0).to(torch::kFloat32);
    const at::Tensor neighbours = stored.index_select(0, id.clamp_min(0).reshape({-1})).reshape({rows, k, -1});
    const at::Tensor sum = stored.narrow(0, first, rows) + (weights.unsqueeze(2) * neighbours).sum(1);
    out.narrow(0, first, rows).copy_(sum / (1 + weights.sum(1, true)));
  }
  return out;
}

}  // namespace imret::rerank
