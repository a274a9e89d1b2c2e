#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "imret/core/error.hpp"
#include "imret/rerank/methods.hpp"
#include "imret/rerank/vectors.hpp"

namespace imret::rerank {

namespace {

// The rankings of a small set: each item's `top` nearest (itself first),
// and where each item stands in each ranking.
class Rankings {
 public:
  Rankings(const std::vector<double>& d, int64_t n, int64_t top)
      : n_(n), top_(top), rank_(static_cast<size_t>(n * top)), position_(static_cast<size_t>(n * n), INT_MAX) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      std::iota(order.begin(), order.end(), 0);
      const double* row = d.data() + i * n;
      std::partial_sort(order.begin(), order.begin() + top, order.end(),
                        [row](int64_t a, int64_t b) { return row[a] < row[b] || (row[a] == row[b] && a < b); });
      for (int64_t r = 0; r < top; ++r) {
        rank_[static_cast<size_t>(i * top + r)] = order[static_cast<size_t>(r)];
        position_[static_cast<size_t>(i * n + order[static_cast<size_t>(r)])] = static_cast<int>(r);
      }
    }
  }
  // initial_rank[i, r]
  int64_t at(int64_t i, int64_t r) const { return rank_[static_cast<size_t>(i * top_ + r)]; }
  // The k-reciprocal neighbours of i: its k + 1 nearest that have i among
  // their own k + 1 nearest, in i's order.
  std::vector<int64_t> reciprocal(int64_t i, int64_t k) const {
    std::vector<int64_t> out;
    const int64_t count = std::min(k + 1, n_);
    for (int64_t r = 0; r < count; ++r) {
      const int64_t f = at(i, r);
      if (position_[static_cast<size_t>(f * n_ + i)] < count) out.push_back(f);
    }
    return out;
  }

 private:
  int64_t n_, top_;
  std::vector<int64_t> rank_;
  std::vector<int> position_;
};

}  // namespace

std::vector<double> k_reciprocal_distances(const std::vector<double>& dist, int64_t n, int64_t k1, int64_t k2,
                                           double lambda) {
  if (n < 1 || static_cast<int64_t>(dist.size()) != n * n)
    throw Error("kreciprocal: need an n x n distance matrix");
  // Each row divided by its largest value (the authors' column maximum of a
  // symmetric matrix, transposed).
  std::vector<double> d(dist.size());
  for (int64_t i = 0; i < n; ++i) {
    const double* row = dist.data() + i * n;
    const double largest = *std::max_element(row, row + n);
    for (int64_t j = 0; j < n; ++j) d[static_cast<size_t>(i * n + j)] = largest > 0 ? row[j] / largest : 0.0;
  }
  const int64_t half = static_cast<int64_t>(std::nearbyint(static_cast<double>(k1) / 2.0));  // np.around: half to even
  const Rankings rankings(d, n, std::min(n, std::max(k1 + 1, k2)));

  std::vector<double> v(static_cast<size_t>(n * n), 0.0);
  std::vector<char> in_set(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int64_t> reciprocal = rankings.reciprocal(i, k1);
    std::fill(in_set.begin(), in_set.end(), 0);
    for (int64_t r : reciprocal) in_set[static_cast<size_t>(r)] = 1;
    std::vector<char> expansion(in_set);
    for (int64_t candidate : reciprocal) {
      const std::vector<int64_t> inner = rankings.reciprocal(candidate, half);
      int64_t common = 0;
      for (int64_t c : inner) common += in_set[static_cast<size_t>(c)];
      if (static_cast<double>(common) > 2.0 / 3.0 * static_cast<double>(inner.size()))
        for (int64_t c : inner) expansion[static_cast<size_t>(c)] = 1;
    }
    double total = 0;
    double* row = v.data() + i * n;
    for (int64_t j = 0; j < n; ++j)
      if (expansion[static_cast<size_t>(j)]) total += row[j] = std::exp(-d[static_cast<size_t>(i * n + j)]);
    if (total > 0)
      for (int64_t j = 0; j < n; ++j) row[j] /= total;
  }
  // Local query expansion: each row the mean of its k2 nearest rows.
  if (k2 != 1) {
    std::vector<double> expanded(v.size(), 0.0);
    const int64_t count = std::min(k2, n);
    for (int64_t i = 0; i < n; ++i) {
      double* out = expanded.data() + i * n;
      for (int64_t r = 0; r < count; ++r) {
        const double* row = v.data() + rankings.at(i, r) * n;
        for (int64_t j = 0; j < n; ++j) out[j] += row[j];
      }
      for (int64_t j = 0; j < n; ++j) out[j] /= static_cast<double>(count);
    }
    v.swap(expanded);
  }
  // Jaccard distance of item 0 to every other, mixed with the original.
  std::vector<double> final_distances(static_cast<size_t>(n - 1));
  const double* query = v.data();
  for (int64_t j = 1; j < n; ++j) {
    const double* row = v.data() + j * n;
    double shared = 0;
    for (int64_t l = 0; l < n; ++l) shared += std::min(query[l], row[l]);
    const double jaccard = 1.0 - shared / (2.0 - shared);
    final_distances[static_cast<size_t>(j - 1)] = jaccard * (1.0 - lambda) + d[static_cast<size_t>(j)] * lambda;
  }
  return final_distances;
}

KReciprocal::KReciprocal(int64_t k1, int64_t k2, double lambda) : k1_(k1), k2_(k2), lambda_(lambda) {
  if (k1 < 1 || k2 < 1 || !(lambda >= 0 && lambda <= 1))
    throw UsageError("kreciprocal: needs k1 >= 1, k2 >= 1 and 0 <= lambda <= 1");
}

std::string KReciprocal::spec() const {
  std::ostringstream out;
  out << "kreciprocal:k1=" << k1_ << ",k2=" << k2_ << ",lambda=" << spec_number(lambda_);
  return out.str();
}

Reordered KReciprocal::reorder(const at::Tensor& queries, const search::SearchResult& shortlist,
                               const search::Index& index) const {
  const at::Tensor ids = shortlist.ids.to(torch::kLong).contiguous();
  const int64_t num_queries = ids.size(0), depth = ids.size(1), dim = index.dim();
  const at::Tensor q = as_indexed(queries, index.metric()).to(torch::kFloat64).contiguous();
  const at::Tensor x = stored_vectors(index, ids).to(torch::kFloat64).contiguous();  // Q x K x D
  at::Tensor out_positions = torch::arange(depth, torch::kLong).repeat({num_queries, 1}).contiguous();
  at::Tensor out_scores = torch::full({num_queries, depth}, -std::numeric_limits<float>::infinity(), torch::kFloat32);
  const int64_t* id = ids.data_ptr<int64_t>();
  int64_t* out_position = out_positions.data_ptr<int64_t>();
  float* out_score = out_scores.data_ptr<float>();
  const double* qp = q.data_ptr<double>();
  const double* xp = x.data_ptr<double>();
  at::parallel_for(0, num_queries, 1, [&](int64_t begin, int64_t end) {
    std::vector<const double*> points;
    std::vector<double> dist;
    for (int64_t i = begin; i < end; ++i) {
      int64_t m = 0;
      while (m < depth && id[i * depth + m] >= 0) ++m;
      if (m == 0) continue;
      points.assign({qp + i * dim});
      for (int64_t r = 0; r < m; ++r) points.push_back(xp + (i * depth + r) * dim);
      const int64_t n = m + 1;
      dist.assign(static_cast<size_t>(n * n), 0.0);
      for (int64_t a = 0; a < n; ++a)
        for (int64_t b = a + 1; b < n; ++b) {
          double s = 0;
          for (int64_t c = 0; c < dim; ++c) {
            const double diff = points[static_cast<size_t>(a)][c] - points[static_cast<size_t>(b)][c];
            s += diff * diff;
          }
          dist[static_cast<size_t>(a * n + b)] = dist[static_cast<size_t>(b * n + a)] = s;
        }
      const std::vector<double> final_distances = k_reciprocal_distances(dist, n, k1_, k2_, lambda_);
      std::vector<int64_t> order(static_cast<size_t>(m));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        return final_distances[static_cast<size_t>(a)] < final_distances[static_cast<size_t>(b)];
      });
      for (int64_t r = 0; r < m; ++r) {
        out_position[i * depth + r] = order[static_cast<size_t>(r)];
        out_score[i * depth + r] = static_cast<float>(-final_distances[static_cast<size_t>(order[static_cast<size_t>(r)])]);
      }
    }
  });
  return {out_positions, out_scores};
}

}  // namespace imret::rerank
