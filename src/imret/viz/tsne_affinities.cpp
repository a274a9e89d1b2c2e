#include "imret/viz/tsne_affinities.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>

#include "imret/search/exact_index.hpp"
#include "imret/viz/tsne_tree.hpp"

namespace imret::viz::tsne_detail {
namespace {

constexpr int kBisectionSteps = 100;
constexpr double kEntropyTolerance = 1e-5;
constexpr double kTinySum = 1e-8;  // stands in for a row sum that underflowed to 0

// One row of the binary search: fills p[0, columns) with exp(-d * beta) / sum
// for the beta whose entropy matches log(perplexity). `skip` is the column
// left out (the point itself in an all-pairs row), or -1.
void calibrate_row(const float* distances, int64_t columns, int64_t skip, double desired_entropy, double* p) {
  double beta = 1.0;
  double beta_min = -std::numeric_limits<double>::infinity();
  double beta_max = std::numeric_limits<double>::infinity();
  for (int step = 0; step < kBisectionSteps; ++step) {
    double sum = 0.0;
    for (int64_t j = 0; j < columns; ++j) {
      p[j] = j == skip ? 0.0 : std::exp(-static_cast<double>(distances[j]) * beta);
      sum += p[j];
    }
    if (sum == 0.0) sum = kTinySum;
    double weighted_distance = 0.0;
    for (int64_t j = 0; j < columns; ++j) {
      p[j] /= sum;
      weighted_distance += static_cast<double>(distances[j]) * p[j];
    }
    const double entropy_difference = std::log(sum) + beta * weighted_distance - desired_entropy;
    if (std::fabs(entropy_difference) <= kEntropyTolerance) return;
    // Entropy too high: the Gaussian is too wide, so raise the precision.
    if (entropy_difference > 0.0) {
      beta_min = beta;
      beta = std::isinf(beta_max) ? beta * 2.0 : (beta + beta_max) / 2.0;
    } else {
      beta_max = beta;
      beta = std::isinf(beta_min) ? beta / 2.0 : (beta + beta_min) / 2.0;
    }
  }
}

}  // namespace

std::vector<float> conditional_probabilities(const float* squared_distances, int64_t rows, int64_t columns,
                                             double perplexity) {
  const bool all_pairs = columns == rows;
  const double desired_entropy = std::log(perplexity);
  std::vector<float> out(static_cast<size_t>(rows * columns));
  at::parallel_for(0, rows, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> p(static_cast<size_t>(columns));
    for (int64_t i = begin; i < end; ++i) {
      calibrate_row(squared_distances + i * columns, columns, all_pairs ? i : -1, desired_entropy, p.data());
      std::copy(p.begin(), p.end(), out.begin() + i * columns);
    }
  });
  return out;
}

Neighbours nearest_neighbours(const at::Tensor& data, int64_t k) {
  const int64_t n = data.size(0), dim = data.size(1);
  search::ExactIndex index(search::Metric::Euclidean);
  index.add(data);
  const at::Tensor found = index.search(data, k + 1).ids.contiguous();
  const int64_t* found_ids = found.data_ptr<int64_t>();
  const float* x = data.data_ptr<float>();

  Neighbours out{n, k, std::vector<int64_t>(static_cast<size_t>(n * k)),
                 std::vector<float>(static_cast<size_t>(n * k))};
  at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t* row = found_ids + i * (k + 1);
      int64_t* ids = out.ids.data() + i * k;
      // Leave the point itself out; if it was not found, drop the farthest.
      int64_t kept = 0;
      for (int64_t c = 0; c <= k && kept < k; ++c)
        if (row[c] != i) ids[kept++] = row[c];
      std::sort(ids, ids + k);
      for (int64_t c = 0; c < k; ++c)
        out.squared_distances[i * k + c] = static_cast<float>(squared_distance(x + i * dim, x + ids[c] * dim, dim));
    }
  });
  return out;
}

SparseAffinities joint_probabilities_nn(const Neighbours& neighbours, double perplexity) {
  const int64_t n = neighbours.points, k = neighbours.k;
  const std::vector<float> conditional =
      conditional_probabilities(neighbours.squared_distances.data(), n, k, perplexity);

  // The transpose of the conditional matrix, in CSR: row j lists the i that
  // have j as a neighbour (ascending i, since rows are visited in order).
  std::vector<int64_t> t_indptr(static_cast<size_t>(n + 1), 0);
  for (int64_t e = 0; e < n * k; ++e) ++t_indptr[neighbours.ids[e] + 1];
  std::partial_sum(t_indptr.begin(), t_indptr.end(), t_indptr.begin());
  std::vector<int64_t> t_indices(static_cast<size_t>(n * k));
  std::vector<float> t_values(static_cast<size_t>(n * k));
  std::vector<int64_t> fill(t_indptr.begin(), t_indptr.end() - 1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < k; ++c) {
      const int64_t slot = fill[neighbours.ids[i * k + c]]++;
      t_indices[slot] = i;
      t_values[slot] = conditional[i * k + c];
    }

  // P + P^T: merge row i of both (each sorted by column), adding shared columns.
  SparseAffinities p;
  p.points = n;
  p.indptr.assign(static_cast<size_t>(n + 1), 0);
  p.indices.reserve(static_cast<size_t>(2 * n * k));
  p.values.reserve(static_cast<size_t>(2 * n * k));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t* a = neighbours.ids.data() + i * k;
    const float* av = conditional.data() + i * k;
    int64_t ia = 0, ib = t_indptr[i];
    const int64_t b_end = t_indptr[i + 1];
    while (ia < k || ib < b_end) {
      const int64_t ca = ia < k ? a[ia] : std::numeric_limits<int64_t>::max();
      const int64_t cb = ib < b_end ? t_indices[ib] : std::numeric_limits<int64_t>::max();
      const int64_t column = std::min(ca, cb);
      float value = 0.0f;
      if (ca == column) value += av[ia++];
      if (cb == column) value += t_values[ib++];
      p.indices.push_back(column);
      p.values.push_back(value);
    }
    p.indptr[i + 1] = static_cast<int64_t>(p.indices.size());
  }
  const double sum = std::max(std::accumulate(p.values.begin(), p.values.end(), 0.0), DBL_EPSILON);
  for (float& v : p.values) v = static_cast<float>(v / sum);
  return p;
}

std::vector<double> joint_probabilities_exact(const at::Tensor& data, double perplexity) {
  const int64_t n = data.size(0), dim = data.size(1);
  const float* x = data.data_ptr<float>();
  std::vector<float> distances(static_cast<size_t>(n * n));
  at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      for (int64_t j = 0; j < n; ++j)
        distances[i * n + j] = static_cast<float>(squared_distance(x + i * dim, x + j * dim, dim));
  });
  const std::vector<float> conditional = conditional_probabilities(distances.data(), n, n, perplexity);

  std::vector<double> p(static_cast<size_t>(n * n));
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      p[i * n + j] = static_cast<double>(conditional[i * n + j]) + conditional[j * n + i];
      sum += p[i * n + j];
    }
  sum = std::max(sum, DBL_EPSILON);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) p[i * n + j] = i == j ? 0.0 : std::max(p[i * n + j] / sum, DBL_EPSILON);
  return p;
}

}  // namespace imret::viz::tsne_detail
