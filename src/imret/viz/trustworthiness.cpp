#include "imret/viz/trustworthiness.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>

#include "imret/core/error.hpp"

namespace imret::viz {
namespace {

// Row-major double copy of an N x D tensor.
std::vector<double> as_doubles(const at::Tensor& t) {
  const at::Tensor d = t.to(at::kDouble).contiguous();
  return std::vector<double>(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
}

// Squared Euclidean distances from row i to every row (row i itself: +inf).
void distances_from(const std::vector<double>& x, int64_t n, int64_t dim, int64_t i, std::vector<double>& out) {
  const double* xi = x.data() + i * dim;
  for (int64_t m = 0; m < n; ++m) {
    const double* xm = x.data() + m * dim;
    double sum = 0.0;
    for (int64_t d = 0; d < dim; ++d) sum += (xi[d] - xm[d]) * (xi[d] - xm[d]);
    out[m] = sum;
  }
  out[i] = std::numeric_limits<double>::infinity();
}

// The k ids with the smallest distance (equal distances: lower id first), nearest first.
void nearest(const std::vector<double>& distance, int64_t k, std::vector<int64_t>& ids) {
  ids.resize(distance.size());
  std::iota(ids.begin(), ids.end(), 0);
  const auto closer = [&](int64_t a, int64_t b) {
    return distance[a] < distance[b] || (distance[a] == distance[b] && a < b);
  };
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), closer);
  ids.resize(static_cast<size_t>(k));
}

void check_points(const at::Tensor& t, const char* what) {
  if (t.dim() != 2 || !t.is_floating_point() || !t.device().is_cpu())
    throw UsageError(std::string(what) + " must be an N x D floating-point matrix on the CPU");
}

}  // namespace

double trustworthiness(const at::Tensor& input, const at::Tensor& embedding, int64_t k) {
  check_points(input, "trustworthiness: the input");
  check_points(embedding, "trustworthiness: the embedding");
  const int64_t n = input.size(0);
  if (embedding.size(0) != n)
    throw UsageError("trustworthiness: the input has " + std::to_string(n) + " rows but the embedding " +
                     std::to_string(embedding.size(0)));
  if (k < 1 || 2 * k >= n)
    throw UsageError("trustworthiness: k (" + std::to_string(k) + ") must be at least 1 and less than N / 2 (N = " +
                     std::to_string(n) + ")");
  const int64_t dim_x = input.size(1), dim_y = embedding.size(1);
  const std::vector<double> x = as_doubles(input), y = as_doubles(embedding);

  std::vector<int64_t> penalty(static_cast<size_t>(n));
  at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> dx(static_cast<size_t>(n)), dy(static_cast<size_t>(n));
    std::vector<int64_t> ids;
    for (int64_t i = begin; i < end; ++i) {
      distances_from(x, n, dim_x, i, dx);
      distances_from(y, n, dim_y, i, dy);
      nearest(dy, k, ids);
      int64_t sum = 0;
      for (const int64_t j : ids) {
        // j's input rank: 1 + the points ordered before it (ties: lower id first).
        int64_t rank = 1;
        for (int64_t m = 0; m < n; ++m) rank += (dx[m] < dx[j] || (dx[m] == dx[j] && m < j)) ? 1 : 0;
        sum += std::max<int64_t>(0, rank - k);
      }
      penalty[i] = sum;
    }
  });
  const double total = static_cast<double>(std::accumulate(penalty.begin(), penalty.end(), int64_t{0}));
  const double nd = static_cast<double>(n), kd = static_cast<double>(k);
  return 1.0 - total * (2.0 / (nd * kd * (2.0 * nd - 3.0 * kd - 1.0)));
}

double knn_accuracy(const at::Tensor& points, const std::vector<int64_t>& labels, int k) {
  check_points(points, "knn_accuracy: the points");
  const int64_t n = points.size(0);
  if (static_cast<int64_t>(labels.size()) != n)
    throw UsageError("knn_accuracy: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) +
                     " points");
  if (k < 1 || k >= n)
    throw UsageError("knn_accuracy: k (" + std::to_string(k) + ") must be in [1, N) (N = " + std::to_string(n) + ")");
  const int64_t dim = points.size(1);
  const std::vector<double> y = as_doubles(points);

  std::vector<char> correct(static_cast<size_t>(n));
  at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> distance(static_cast<size_t>(n));
    std::vector<int64_t> ids, votes;
    for (int64_t i = begin; i < end; ++i) {
      distances_from(y, n, dim, i, distance);
      nearest(distance, k, ids);
      votes.clear();
      for (const int64_t j : ids) votes.push_back(labels[j]);
      std::sort(votes.begin(), votes.end());
      // The longest run of equal labels; the first (smallest label) wins a tie.
      int64_t best_label = votes[0], best_count = 0;
      for (size_t a = 0; a < votes.size();) {
        size_t b = a;
        while (b < votes.size() && votes[b] == votes[a]) ++b;
        if (static_cast<int64_t>(b - a) > best_count) {
          best_count = static_cast<int64_t>(b - a);
          best_label = votes[a];
        }
        a = b;
      }
      correct[i] = best_label == labels[i] ? 1 : 0;
    }
  });
  return static_cast<double>(std::accumulate(correct.begin(), correct.end(), int64_t{0})) / static_cast<double>(n);
}

}  // namespace imret::viz
