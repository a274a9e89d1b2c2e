#include "imret/viz/umap_graph.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "imret/core/error.hpp"
#include "imret/search/exact_index.hpp"
#include "imret/search/index.hpp"

namespace imret::viz::umap_detail {
namespace {

constexpr double kSmoothTolerance = 1e-5;  // umap-learn's SMOOTH_K_TOLERANCE
constexpr double kMinDistanceScale = 1e-3;  // MIN_K_DIST_SCALE
constexpr int kBisectionSteps = 64;
constexpr double kLargeWork = 2e11;     // N^2 D above which "auto" searches a projection
constexpr int64_t kProjectedDims = 64;  // "projected": candidates found among this many principal components
constexpr int64_t kCandidatesPerNeighbour = 3;

// The data centred and projected on its first `dims` principal components
// (the covariance's eigenvectors), float32.
at::Tensor principal_projection(const at::Tensor& data, int64_t dims) {
  const at::Tensor centred = data - data.mean(0, true);
  const at::Tensor covariance = centred.t().matmul(centred).to(torch::kFloat64);
  const at::Tensor vectors = std::get<1>(torch::linalg_eigh(covariance));  // ascending
  return centred.matmul(vectors.flip(1).slice(1, 0, dims).to(torch::kFloat32)).contiguous();
}

double pair_distance(const float* a, const float* b, int64_t dims, bool cosine) {
  if (!cosine) {
    double sum = 0;
    for (int64_t d = 0; d < dims; ++d) {
      const double diff = static_cast<double>(a[d]) - b[d];
      sum += diff * diff;
    }
    return std::sqrt(sum);
  }
  double dot = 0, na = 0, nb = 0;
  for (int64_t d = 0; d < dims; ++d) {
    dot += static_cast<double>(a[d]) * b[d];
    na += static_cast<double>(a[d]) * a[d];
    nb += static_cast<double>(b[d]) * b[d];
  }
  if (na == 0 && nb == 0) return 0.0;  // umap-learn's cosine: two zero vectors are equal
  if (na == 0 || nb == 0) return 1.0;
  return std::max(0.0, 1.0 - dot / std::sqrt(na * nb));
}

}  // namespace

NeighbourGraph nearest_neighbours(const at::Tensor& data_in, int64_t k, const std::string& metric,
                                  const std::string& method) {
  if (metric != "euclidean" && metric != "cosine")
    throw UsageError("UMAP metric " + metric + ": expected euclidean or cosine");
  if (method != "auto" && method != "exact" && method != "projected" && method != "hnsw")
    throw UsageError("UMAP neighbours " + method + ": expected auto, exact, projected or hnsw");
  at::Tensor data = data_in.to(torch::kFloat32).contiguous();
  const int64_t n = data.size(0), dims = data.size(1);
  if (k < 1 || k > n) throw UsageError("UMAP: " + std::to_string(k) + " neighbours of " + std::to_string(n) + " points");
  const bool cosine = metric == "cosine";
  bool hnsw = method == "hnsw";
  if (hnsw && !search::has_faiss())
    throw UsageError("UMAP neighbours hnsw: this imret was built without FAISS (cmake -DIMRET_WITH_FAISS=ON)");
  const bool large = static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(dims) > kLargeWork;
  const bool projected = (method == "projected" || (method == "auto" && large)) && dims > kProjectedDims;

  const search::Metric search_metric = cosine ? search::Metric::Cosine : search::Metric::Euclidean;
  at::Tensor found;
  NeighbourGraph out;
  out.points = n;
  out.k = k;
  int64_t searched = k;  // candidates per point
  if (projected) {
    // Candidates: the nearest 3k in the first 64 principal components (of
    // the unit vectors for cosine), then ranked by their true distances below.
    searched = std::min(n, kCandidatesPerNeighbour * k);
    const at::Tensor unit = cosine ? data / data.norm(2, 1, true).clamp_min(1e-30) : data;
    search::ExactIndex index(search::Metric::Euclidean);
    const at::Tensor projection = principal_projection(unit, kProjectedDims);
    index.add(projection);
    found = index.search(projection, searched).ids.contiguous();
    out.method = "exact among " + std::to_string(searched) + " candidates from " + std::to_string(kProjectedDims) +
                 " principal components";
  } else if (hnsw) {
    const int64_t ef_search = std::max<int64_t>(2 * k, 64);
    auto index = search::make_index("faiss:HNSW32", c10::kCPU, search_metric);
    index->set_parameter("efConstruction", 64);
    index->add(data);
    index->set_parameter("efSearch", static_cast<double>(ef_search));
    found = index->search(data, k).ids.contiguous();
    out.method = "faiss:HNSW32 (efConstruction 64, efSearch " + std::to_string(ef_search) + ")";
  } else {
    search::ExactIndex index(search_metric);
    index.add(data);
    found = index.search(data, k).ids.contiguous();
    out.method = "exact";
  }

  out.ids.resize(static_cast<size_t>(n * k));
  out.distances.resize(static_cast<size_t>(n * k));
  const int64_t* found_ids = found.data_ptr<int64_t>();
  const float* x = data.data_ptr<float>();
  at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) {
    std::vector<std::pair<double, int64_t>> row(static_cast<size_t>(k)), candidates;
    for (int64_t i = begin; i < end; ++i) {
      // The point itself first; if the search missed it (duplicates, or an
      // approximate index), it takes the place of the farthest.
      candidates.clear();
      for (int64_t c = 0; c < searched; ++c) {
        const int64_t j = found_ids[i * searched + c];
        // An approximate index may return -1 (not enough found): padded below.
        if (j == i || j < 0) continue;
        candidates.emplace_back(pair_distance(x + i * dims, x + j * dims, dims, cosine), j);
      }
      if (static_cast<int64_t>(candidates.size()) > k - 1) {
        std::partial_sort(candidates.begin(), candidates.begin() + (k - 1), candidates.end());
        candidates.resize(static_cast<size_t>(k - 1));
      }
      size_t kept = 0;
      row[kept++] = {0.0, i};
      for (const auto& candidate : candidates) row[kept++] = candidate;
      // Padding (rare; only an approximate index): the nearest unused ids.
      for (int64_t j = 0; kept < static_cast<size_t>(k) && j < n; ++j) {
        if (std::any_of(row.begin(), row.begin() + static_cast<std::ptrdiff_t>(kept),
                        [&](const auto& e) { return e.second == j; }))
          continue;
        row[kept++] = {pair_distance(x + i * dims, x + j * dims, dims, cosine), j};
      }
      std::sort(row.begin() + 1, row.end());
      for (int64_t c = 0; c < k; ++c) {
        out.ids[static_cast<size_t>(i * k + c)] = row[static_cast<size_t>(c)].second;
        out.distances[static_cast<size_t>(i * k + c)] = static_cast<float>(row[static_cast<size_t>(c)].first);
      }
    }
  });
  return out;
}

SmoothDistances smooth_knn_distances(const NeighbourGraph& graph, double local_connectivity) {
  const int64_t n = graph.points, k = graph.k;
  const double target = std::log2(static_cast<double>(k));
  double total = 0;
  for (const float d : graph.distances) total += d;
  const double mean_all = graph.distances.empty() ? 0.0 : total / static_cast<double>(graph.distances.size());

  SmoothDistances out{std::vector<float>(static_cast<size_t>(n)), std::vector<float>(static_cast<size_t>(n))};
  at::parallel_for(0, n, 256, [&](int64_t begin, int64_t end) {
    std::vector<float> non_zero;
    for (int64_t i = begin; i < end; ++i) {
      const float* d = graph.distances.data() + i * k;
      non_zero.clear();
      for (int64_t c = 0; c < k; ++c)
        if (d[c] > 0.0f) non_zero.push_back(d[c]);
      float rho = 0.0f;
      if (static_cast<double>(non_zero.size()) >= local_connectivity) {
        const auto index = static_cast<int64_t>(std::floor(local_connectivity));
        const double interpolation = local_connectivity - static_cast<double>(index);
        if (index > 0) {
          rho = non_zero[static_cast<size_t>(index - 1)];
          if (interpolation > kSmoothTolerance)
            rho += static_cast<float>(interpolation *
                                      (non_zero[static_cast<size_t>(index)] - non_zero[static_cast<size_t>(index - 1)]));
        } else {
          rho = static_cast<float>(interpolation * non_zero[0]);
        }
      } else if (!non_zero.empty()) {
        rho = *std::max_element(non_zero.begin(), non_zero.end());
      }

      double lo = 0.0, hi = std::numeric_limits<double>::infinity(), mid = 1.0;
      for (int step = 0; step < kBisectionSteps; ++step) {
        double sum = 0.0;
        for (int64_t c = 1; c < k; ++c) {
          const float excess = d[c] - rho;
          sum += excess > 0.0f ? std::exp(-(static_cast<double>(excess) / mid)) : 1.0;
        }
        if (std::fabs(sum - target) < kSmoothTolerance) break;
        if (sum > target) {
          hi = mid;
          mid = (lo + hi) / 2.0;
        } else {
          lo = mid;
          mid = std::isinf(hi) ? mid * 2.0 : (lo + hi) / 2.0;
        }
      }
      float sigma = static_cast<float>(mid);
      if (rho > 0.0f) {
        double row_total = 0;
        for (int64_t c = 0; c < k; ++c) row_total += d[c];
        sigma = std::max(sigma, static_cast<float>(kMinDistanceScale * row_total / static_cast<double>(k)));
      } else {
        sigma = std::max(sigma, static_cast<float>(kMinDistanceScale * mean_all));
      }
      out.sigmas[static_cast<size_t>(i)] = sigma;
      out.rhos[static_cast<size_t>(i)] = rho;
    }
  });
  return out;
}

SparseGraph membership_strengths(const NeighbourGraph& graph, const SmoothDistances& smooth) {
  const int64_t n = graph.points, k = graph.k;
  SparseGraph out;
  out.points = n;
  out.indptr.assign(static_cast<size_t>(n + 1), 0);
  out.indices.reserve(static_cast<size_t>(n * k));
  out.values.reserve(static_cast<size_t>(n * k));
  std::vector<std::pair<int64_t, float>> row;
  for (int64_t i = 0; i < n; ++i) {
    row.clear();
    const float rho = smooth.rhos[static_cast<size_t>(i)], sigma = smooth.sigmas[static_cast<size_t>(i)];
    for (int64_t c = 0; c < k; ++c) {
      const int64_t j = graph.ids[static_cast<size_t>(i * k + c)];
      if (j == i || j < 0) continue;
      const float d = graph.distances[static_cast<size_t>(i * k + c)];
      const float value = (d - rho <= 0.0f || sigma == 0.0f) ? 1.0f : std::exp(-((d - rho) / sigma));
      if (value != 0.0f) row.emplace_back(j, value);
    }
    std::sort(row.begin(), row.end());
    for (const auto& [j, value] : row) {
      out.indices.push_back(j);
      out.values.push_back(value);
    }
    out.indptr[static_cast<size_t>(i + 1)] = out.edges();
  }
  return out;
}

SparseGraph fuzzy_union(const SparseGraph& a, double set_op_mix_ratio) {
  const int64_t n = a.points;
  // The transpose, in CSR: row j lists the i with an entry (i, j), ascending i.
  std::vector<int64_t> t_indptr(static_cast<size_t>(n + 1), 0);
  for (const int64_t j : a.indices) ++t_indptr[static_cast<size_t>(j + 1)];
  std::partial_sum(t_indptr.begin(), t_indptr.end(), t_indptr.begin());
  std::vector<int64_t> t_indices(a.indices.size());
  std::vector<float> t_values(a.values.size());
  std::vector<int64_t> fill(t_indptr.begin(), t_indptr.end() - 1);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t e = a.indptr[static_cast<size_t>(i)]; e < a.indptr[static_cast<size_t>(i + 1)]; ++e) {
      const int64_t slot = fill[static_cast<size_t>(a.indices[static_cast<size_t>(e)])]++;
      t_indices[static_cast<size_t>(slot)] = i;
      t_values[static_cast<size_t>(slot)] = a.values[static_cast<size_t>(e)];
    }

  const float mix = static_cast<float>(set_op_mix_ratio);
  SparseGraph out;
  out.points = n;
  out.indptr.assign(static_cast<size_t>(n + 1), 0);
  out.indices.reserve(2 * a.indices.size());
  out.values.reserve(2 * a.values.size());
  constexpr int64_t kEnd = std::numeric_limits<int64_t>::max();
  for (int64_t i = 0; i < n; ++i) {
    int64_t ea = a.indptr[static_cast<size_t>(i)], eb = t_indptr[static_cast<size_t>(i)];
    const int64_t a_end = a.indptr[static_cast<size_t>(i + 1)], b_end = t_indptr[static_cast<size_t>(i + 1)];
    while (ea < a_end || eb < b_end) {
      const int64_t ca = ea < a_end ? a.indices[static_cast<size_t>(ea)] : kEnd;
      const int64_t cb = eb < b_end ? t_indices[static_cast<size_t>(eb)] : kEnd;
      const int64_t column = std::min(ca, cb);
      const float x = ca == column ? a.values[static_cast<size_t>(ea++)] : 0.0f;
      const float y = cb == column ? t_values[static_cast<size_t>(eb++)] : 0.0f;
      const float product = x * y;
      const float value = mix * (x + y - product) + (1.0f - mix) * product;
      if (value == 0.0f) continue;
      out.indices.push_back(column);
      out.values.push_back(value);
    }
    out.indptr[static_cast<size_t>(i + 1)] = out.edges();
  }
  return out;
}

SparseGraph fuzzy_simplicial_set(const NeighbourGraph& graph, double local_connectivity, double set_op_mix_ratio,
                                 SmoothDistances* smooth) {
  const SmoothDistances distances = smooth_knn_distances(graph, local_connectivity);
  SparseGraph result = fuzzy_union(membership_strengths(graph, distances), set_op_mix_ratio);
  if (smooth) *smooth = distances;
  return result;
}

}  // namespace imret::viz::umap_detail
