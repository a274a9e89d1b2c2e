#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>
#include <unordered_map>

#include "imret/core/error.hpp"
#include "imret/rerank/methods.hpp"
#include "imret/rerank/vectors.hpp"
#include "imret/search/similarity.hpp"

namespace imret::rerank {

std::vector<double> conjugate_gradient(
    const std::function<void(const std::vector<double>&, std::vector<double>&)>& apply, const std::vector<double>& b,
    int64_t iterations, double tolerance) {
  const size_t n = b.size();
  std::vector<double> x(n, 0.0), r(b), p(b), ap(n);
  const auto dot = [n](const std::vector<double>& u, const std::vector<double>& v) {
    double s = 0;
    for (size_t i = 0; i < n; ++i) s += u[i] * v[i];
    return s;
  };
  const double limit = tolerance * tolerance * dot(b, b);
  double rr = dot(r, r);
  for (int64_t step = 0; step < iterations && rr > limit; ++step) {
    apply(p, ap);
    const double pap = dot(p, ap);
    if (!(pap > 0)) break;  // not positive definite along p (or p = 0): stop where we are
    const double a = rr / pap;
    for (size_t i = 0; i < n; ++i) {
      x[i] += a * p[i];
      r[i] -= a * ap[i];
    }
    const double next = dot(r, r);
    for (size_t i = 0; i < n; ++i) p[i] = r[i] + next / rr * p[i];
    rr = next;
  }
  return x;
}

Diffusion::Diffusion(int64_t k, int64_t kq, double alpha, double gamma, int64_t iterations)
    : k_(k), kq_(kq), alpha_(alpha), gamma_(gamma), iterations_(iterations) {
  if (k < 1 || kq < 1 || !(alpha >= 0 && alpha < 1) || gamma < 0 || iterations < 1)
    throw UsageError("diffusion: needs k >= 1, kq >= 1, 0 <= alpha < 1, gamma >= 0 and iterations >= 1");
}

std::string Diffusion::spec() const {
  std::ostringstream out;
  out << "diffusion:k=" << k_ << ",kq=" << kq_ << ",alpha=" << spec_number(alpha_) << ",gamma=" << spec_number(gamma_)
      << ",iterations=" << iterations_;
  return out.str();
}

void Diffusion::prepare(const search::Index& index) {
  graph_ = std::make_shared<NeighbourGraph>(neighbour_graph(index, std::min<int64_t>(k_, std::max<int64_t>(index.size() - 1, 1))));
}

Reordered Diffusion::reorder(const at::Tensor& queries, const search::SearchResult& shortlist,
                             const search::Index& index) const {
  if (!graph_ || graph_->items != index.size())
    throw Error("diffusion: the neighbour graph is not made for this index (Plan::prepare first)");
  const NeighbourGraph& graph = *graph_;
  const at::Tensor ids = shortlist.ids.to(torch::kLong).contiguous();
  const int64_t num_queries = ids.size(0), depth = ids.size(1);
  // The query's cosine with its first kq items.
  const int64_t kq = std::min(kq_, depth);
  const at::Tensor first = ids.narrow(1, 0, kq).contiguous();
  const at::Tensor x = stored_vectors(index, first);  // Q x kq x D
  const at::Tensor q = search::unit_rows(as_indexed(queries, index.metric()));
  const at::Tensor query_cosine =
      torch::bmm(search::unit_rows(x.reshape({-1, x.size(2)})).reshape(x.sizes()), q.unsqueeze(2))
          .squeeze(2)
          .to(torch::kFloat64)
          .contiguous();
  at::Tensor out_positions = torch::arange(depth, torch::kLong).repeat({num_queries, 1}).contiguous();
  at::Tensor out_scores = torch::full({num_queries, depth}, -std::numeric_limits<float>::infinity(), torch::kFloat32);
  const int64_t* id = ids.data_ptr<int64_t>();
  const double* qc = query_cosine.data_ptr<double>();
  int64_t* out_position = out_positions.data_ptr<int64_t>();
  float* out_score = out_scores.data_ptr<float>();
  at::parallel_for(0, num_queries, 1, [&](int64_t begin, int64_t end) {
    std::unordered_map<int64_t, int64_t> local;  // database id -> place in the shortlist
    for (int64_t i = begin; i < end; ++i) {
      const int64_t* row = id + i * depth;
      int64_t m = 0;
      while (m < depth && row[m] >= 0) ++m;
      if (m == 0) continue;
      local.clear();
      for (int64_t a = 0; a < m; ++a) local.emplace(row[a], a);
      // The mutual-neighbour edges inside the shortlist: (b, weight) lists.
      std::vector<std::vector<std::pair<int64_t, double>>> edges(static_cast<size_t>(m));
      for (int64_t a = 0; a < m; ++a) {
        const int64_t* neighbours = graph.row(row[a]);
        const float* cosines = graph.cosine_row(row[a]);
        for (int64_t j = 0; j < graph.k; ++j) {
          const auto found = local.find(neighbours[j]);
          if (found == local.end() || found->second <= a) continue;  // each pair once, from its first item
          const int64_t b = found->second;
          const int64_t* back = graph.row(row[b]);
          if (std::find(back, back + graph.k, row[a]) == back + graph.k) continue;  // not mutual
          const double w = std::pow(std::max(static_cast<double>(cosines[j]), 0.0), gamma_);
          if (w <= 0) continue;
          edges[static_cast<size_t>(a)].emplace_back(b, w);
          edges[static_cast<size_t>(b)].emplace_back(a, w);
        }
      }
      std::vector<double> scale(static_cast<size_t>(m), 0.0);  // D^-1/2
      for (int64_t a = 0; a < m; ++a) {
        double degree = 0;
        for (const auto& e : edges[static_cast<size_t>(a)]) degree += e.second;
        scale[static_cast<size_t>(a)] = degree > 0 ? 1.0 / std::sqrt(degree) : 0.0;
      }
      std::vector<double> y(static_cast<size_t>(m), 0.0);
      for (int64_t a = 0; a < std::min(kq, m); ++a)
        y[static_cast<size_t>(a)] = std::pow(std::max(qc[i * kq + a], 0.0), gamma_);
      const auto apply = [&](const std::vector<double>& f, std::vector<double>& out) {
        for (int64_t a = 0; a < m; ++a) {
          double s = 0;
          for (const auto& e : edges[static_cast<size_t>(a)]) s += e.second * scale[static_cast<size_t>(e.first)] * f[static_cast<size_t>(e.first)];
          out[static_cast<size_t>(a)] = f[static_cast<size_t>(a)] - alpha_ * scale[static_cast<size_t>(a)] * s;
        }
      };
      const std::vector<double> f = conjugate_gradient(apply, y, iterations_, 1e-6);
      std::vector<int64_t> order(static_cast<size_t>(m));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int64_t a, int64_t b) { return f[static_cast<size_t>(a)] > f[static_cast<size_t>(b)]; });
      for (int64_t r = 0; r < m; ++r) {
        out_position[i * depth + r] = order[static_cast<size_t>(r)];
        out_score[i * depth + r] = static_cast<float>(f[static_cast<size_t>(order[static_cast<size_t>(r)])]);
      }
    }
  });
  return {out_positions, out_scores};
}

}  // namespace imret::rerank
