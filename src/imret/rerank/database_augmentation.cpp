#include <torch/torch.h>

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
  out << "dba:k=" << k_ << ",alpha=" << alpha_;
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
  const at::Tensor valid = (ids >= 0).to(torch::kFloat32);
  const at::Tensor weights = cosines.clamp_min(0).pow(alpha_) * valid;                       // n x k
  const at::Tensor neighbours = stored.index_select(0, ids.clamp_min(0).reshape({-1})).reshape({n, k, -1});
  const at::Tensor sum = stored + (weights.unsqueeze(2) * neighbours).sum(1);
  return sum / (1 + weights.sum(1, true));
}

}  // namespace imret::rerank
