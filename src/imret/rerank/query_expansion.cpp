#include <torch/torch.h>

#include <sstream>

#include "imret/core/error.hpp"
#include "imret/rerank/methods.hpp"
#include "imret/rerank/vectors.hpp"
#include "imret/search/similarity.hpp"

namespace imret::rerank {

QueryExpansion::QueryExpansion(int64_t k, double alpha) : k_(k), alpha_(alpha) {
  if (k < 0 || alpha < 0) throw UsageError("aqe: k and alpha must not be negative");
}

std::string QueryExpansion::spec() const {
  std::ostringstream out;
  out << "aqe:k=" << k_ << ",alpha=" << spec_number(alpha_);
  return out.str();
}

at::Tensor QueryExpansion::expand_queries(const at::Tensor& queries, const search::SearchResult& shortlist,
                                          const search::Index& index) const {
  const at::Tensor q = as_indexed(queries, index.metric());
  const int64_t k = std::min<int64_t>(k_, shortlist.ids.size(1));
  if (k == 0) return q;
  const at::Tensor ids = shortlist.ids.narrow(1, 0, k).to(torch::kLong).contiguous();  // Q x k
  const at::Tensor x = stored_vectors(index, ids);                                        // Q x k x D
  // Weights from the cosine of query and item; padding (-1) weighs nothing.
  const at::Tensor cosine = torch::bmm(search::unit_rows(x.reshape({-1, x.size(2)})).reshape(x.sizes()),
                                       search::unit_rows(q).unsqueeze(2))
                                .squeeze(2);
  at::Tensor weights = cosine.clamp_min(0).pow(alpha_) * (ids >= 0).to(torch::kFloat32);
  const at::Tensor sum = q + (weights.unsqueeze(2) * x).sum(1);
  return sum / (1 + weights.sum(1, true));
}

}  // namespace imret::rerank
