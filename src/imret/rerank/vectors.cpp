#include "imret/rerank/vectors.hpp"

#include <torch/torch.h>

#include "imret/search/similarity.hpp"

namespace imret::rerank {

at::Tensor stored_vectors(const search::Index& index, const at::Tensor& ids) {
  const at::Tensor flat = ids.to(torch::kCPU, torch::kLong).contiguous().reshape({-1});
  at::Tensor out = torch::empty({flat.size(0), index.dim()}, torch::kFloat32);
  index.copy_vectors(flat.data_ptr<int64_t>(), flat.size(0), out.data_ptr<float>());
  std::vector<int64_t> shape(ids.sizes().begin(), ids.sizes().end());
  shape.push_back(index.dim());
  return out.reshape(shape);
}

at::Tensor as_indexed(const at::Tensor& queries, search::Metric metric) {
  const at::Tensor q = queries.to(torch::kCPU, torch::kFloat32).contiguous();
  return metric == search::Metric::Cosine ? search::unit_rows(q) : q;
}

}  // namespace imret::rerank
