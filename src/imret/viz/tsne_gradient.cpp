#include "imret/viz/tsne_gradient.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>

#include "imret/viz/tsne_tree.hpp"

namespace imret::viz::tsne_detail {
namespace {

// Points per parallel task: small enough to balance the uneven cost of the
// tree walks, large enough to keep scheduling cheap.
constexpr int64_t kGrain = 64;

// The Student-t kernel in double, as sklearn's exact code (pdist) computes it:
// (dof / (dof + d2))^((dof + 1) / 2) = (1 + d2 / dof)^(-(dof + 1) / 2).
inline double kernel(double squared_distance, int dof) {
  const double q = dof / (dof + squared_distance);
  return dof == 1 ? q : std::pow(q, (dof + 1.0) / 2.0);
}

double gradient_factor(int dof) { return 2.0 * (dof + 1.0) / dof; }

// Runs body(begin, end) over the blocks of kGrain points in [0, n) that
// are still free (`next` is the first), taking one at a time.
template <typename Body>
void take_blocks(std::atomic<int64_t>& next, int64_t n, const Body& body) {
  for (int64_t begin = next.fetch_add(kGrain); begin < n; begin = next.fetch_add(kGrain))
    body(begin, std::min(begin + kGrain, n));
}

// Runs body(begin, end) over [0, n) in blocks of kGrain points handed out
// on demand (the cost of a tree walk varies from point to point, so static
// halves would leave a thread idle). Every point's result goes to its own
// slot, so the outcome does not depend on the scheduling.
template <typename Body>
void for_each_block(int64_t n, const Body& body) {
  std::atomic<int64_t> next{0};
  at::parallel_for(0, at::get_num_threads(), 1, [&](int64_t, int64_t) { take_blocks(next, n, body); });
}

// Attraction on point i: the sum over its P entries of p * q * (y_i - y_j),
// in float as sklearn computes it.
template <int Dim>
void attraction(const SparseAffinities& p, float p_scale, const float* y, int dof, int64_t i, float* force) {
  float sum[Dim] = {};
  const float* yi = y + i * Dim;
  for (int64_t e = p.indptr[i]; e < p.indptr[i + 1]; ++e) {
    const float* yj = y + p.indices[e] * Dim;
    float diff[Dim];
    float d2 = 0.0f;
    for (int ax = 0; ax < Dim; ++ax) {
      diff[ax] = yi[ax] - yj[ax];
      d2 += diff[ax] * diff[ax];
    }
    const float pq = p.values[e] * student_t(d2, dof);
    for (int ax = 0; ax < Dim; ++ax) sum[ax] += pq * diff[ax];
  }
  for (int ax = 0; ax < Dim; ++ax) force[ax] = p_scale * sum[ax];
}

// KL(P || Q) over P's non-zeros, with Q = kernel / z (sklearn clamps both
// sides of the log at the smallest normal float).
template <int Dim>
double sparse_kl(const SparseAffinities& p, double p_scale, const float* y, int dof, double z) {
  const double tiny = std::numeric_limits<float>::min();
  std::vector<double> per_point(static_cast<size_t>(p.points));
  at::parallel_for(0, p.points, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double sum = 0.0;
      for (int64_t e = p.indptr[i]; e < p.indptr[i + 1]; ++e) {
        const float* yi = y + i * Dim;
        const float* yj = y + p.indices[e] * Dim;
        float d2 = 0.0f;
        for (int ax = 0; ax < Dim; ++ax) d2 += (yi[ax] - yj[ax]) * (yi[ax] - yj[ax]);
        const double pij = p_scale * p.values[e];
        const double qij = student_t(d2, dof) / z;
        sum += pij * std::log(std::max(pij, tiny) / std::max(qij, tiny));
      }
      per_point[i] = sum;
    }
  });
  return std::accumulate(per_point.begin(), per_point.end(), 0.0);
}

// One thread builds the tree while the others compute the attraction; the
// builder joins them when done.
template <int Dim>
void build_tree_and_attract(SpaceTree<Dim>& tree, const SparseAffinities& p, float p_scale, const float* y, int dof,
                            float* attract) {
  const int64_t n = p.points;
  std::atomic<int64_t> next{0};
  at::parallel_for(0, at::get_num_threads(), 1, [&](int64_t first_thread, int64_t) {
    if (first_thread == 0) tree.build(y, n);
    take_blocks(next, n, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) attraction<Dim>(p, p_scale, y, dof, i, attract + i * Dim);
    });
  });
}

template <int Dim>
double barnes_hut(const SparseAffinities& p, double p_scale, const float* y, int dof, double angle, float* grad,
                  bool compute_error) {
  const int64_t n = p.points;
  std::vector<float> repulsion(static_cast<size_t>(n * Dim)), attract(static_cast<size_t>(n * Dim));
  std::vector<double> z_share(static_cast<size_t>(n));
  SpaceTree<Dim> tree;
  build_tree_and_attract(tree, p, static_cast<float>(p_scale), y, dof, attract.data());
  const auto squared_angle = static_cast<float>(angle * angle);
  for_each_block(n, [&](int64_t begin, int64_t end) {
    tree.repulsion(y + begin * Dim, end - begin, squared_angle, dof, repulsion.data() + begin * Dim,
                   z_share.data() + begin);
  });
  const double z = std::max(std::accumulate(z_share.begin(), z_share.end(), 0.0), DBL_EPSILON);
  const double factor = gradient_factor(dof);
  for (int64_t c = 0; c < n * Dim; ++c) grad[c] = static_cast<float>(factor * (attract[c] - repulsion[c] / z));
  return compute_error ? sparse_kl<Dim>(p, p_scale, y, dof, z) : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

double exact_kl_gradient(const std::vector<double>& p, double p_scale, const float* y, int64_t n, int64_t dims,
                         int dof, float* grad, bool compute_error) {
  std::vector<double> row_sums(static_cast<size_t>(n));
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      double sum = 0.0;
      for (int64_t j = 0; j < n; ++j)
        if (j != i) sum += kernel(squared_distance(y + i * dims, y + j * dims, dims), dof);
      row_sums[i] = sum;
    }
  });
  const double z = std::accumulate(row_sums.begin(), row_sums.end(), 0.0);
  const double factor = gradient_factor(dof);

  std::vector<double> row_errors(static_cast<size_t>(n));
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    std::vector<double> g(static_cast<size_t>(dims));
    for (int64_t i = begin; i < end; ++i) {
      std::fill(g.begin(), g.end(), 0.0);
      double error = 0.0;
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        const double w = kernel(squared_distance(y + i * dims, y + j * dims, dims), dof);
        const double q = std::max(w / z, DBL_EPSILON);
        const double pij = p_scale * p[i * n + j];
        if (compute_error) error += pij * std::log(std::max(pij, DBL_EPSILON) / q);
        const double weight = (pij - q) * w;
        for (int64_t ax = 0; ax < dims; ++ax) g[ax] += weight * (static_cast<double>(y[i * dims + ax]) - y[j * dims + ax]);
      }
      for (int64_t ax = 0; ax < dims; ++ax) grad[i * dims + ax] = static_cast<float>(factor * g[ax]);
      row_errors[i] = error;
    }
  });
  return compute_error ? std::accumulate(row_errors.begin(), row_errors.end(), 0.0)
                       : std::numeric_limits<double>::quiet_NaN();
}

double barnes_hut_kl_gradient(const SparseAffinities& p, double p_scale, const float* y, int64_t dims, int dof,
                              double angle, float* grad, bool compute_error) {
  return dims == 2 ? barnes_hut<2>(p, p_scale, y, dof, angle, grad, compute_error)
                   : barnes_hut<3>(p, p_scale, y, dof, angle, grad, compute_error);
}

}  // namespace imret::viz::tsne_detail
