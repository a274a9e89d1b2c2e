#include "imret/viz/umap_spectral.hpp"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace imret::viz::umap_detail {
namespace {

constexpr double kResidualTolerance = 1e-6;
constexpr int64_t kMaxProducts = 10000;

// x <- x - B^T (B x), twice (B: rows are orthonormal vectors).
void orthogonalise(at::Tensor& x, const at::Tensor& basis) {
  if (basis.size(0) == 0) return;
  for (int pass = 0; pass < 2; ++pass) x -= basis.t().mv(basis.mv(x));
}

// The rows of `graph` in `members` (ascending), as a graph of its own.
SparseGraph subgraph(const SparseGraph& graph, const std::vector<int64_t>& members) {
  std::vector<int64_t> position(static_cast<size_t>(graph.points), -1);
  for (size_t m = 0; m < members.size(); ++m) position[static_cast<size_t>(members[m])] = static_cast<int64_t>(m);
  SparseGraph out;
  out.points = static_cast<int64_t>(members.size());
  out.indptr.push_back(0);
  for (const int64_t i : members) {
    for (int64_t e = graph.indptr[static_cast<size_t>(i)]; e < graph.indptr[static_cast<size_t>(i + 1)]; ++e) {
      const int64_t p = position[static_cast<size_t>(graph.indices[static_cast<size_t>(e)])];
      if (p < 0) continue;
      out.indices.push_back(p);
      out.values.push_back(graph.values[static_cast<size_t>(e)]);
    }
    out.indptr.push_back(out.edges());
  }
  return out;
}

at::Tensor uniform(int64_t rows, int64_t cols, double low, double high, at::Generator& generator) {
  return torch::rand({rows, cols}, generator, torch::kFloat64) * (high - low) + low;
}

// sklearn's SpectralEmbedding(affinity="precomputed") of a small dense
// affinity matrix: the normalised Laplacian's eigenvectors 1..dim (the
// diagonal of the affinity ignored, as scipy's laplacian does), divided by
// sqrt(degree), each signed so that its largest-magnitude entry is positive.
at::Tensor dense_spectral_embedding(const at::Tensor& affinity, int64_t dim) {
  const int64_t n = affinity.size(0);
  at::Tensor w = affinity.clone();
  w.fill_diagonal_(0);
  at::Tensor root = w.sum(1).sqrt();
  root = torch::where(root > 0, root, torch::ones_like(root));  // isolated: degree 1, as scipy's laplacian
  const at::Tensor laplacian = torch::eye(n, torch::kFloat64) - w / root.unsqueeze(1) / root.unsqueeze(0);
  const at::Tensor vectors = std::get<1>(torch::linalg_eigh(laplacian));  // ascending
  at::Tensor embedding = vectors.slice(1, 1, dim + 1) / root.unsqueeze(1);
  for (int64_t c = 0; c < embedding.size(1); ++c) {
    at::Tensor column = embedding.select(1, c);
    const int64_t largest = column.abs().argmax().item<int64_t>();
    if (column[largest].item<double>() < 0) column.neg_();
  }
  if (embedding.size(1) < dim) embedding = torch::cat({embedding, torch::zeros({n, dim - embedding.size(1)}, torch::kFloat64)}, 1);
  return embedding;
}

}  // namespace

std::vector<int64_t> connected_components(const SparseGraph& graph, int64_t* count) {
  std::vector<int64_t> label(static_cast<size_t>(graph.points), -1);
  std::vector<int64_t> stack;
  int64_t components = 0;
  for (int64_t start = 0; start < graph.points; ++start) {
    if (label[static_cast<size_t>(start)] >= 0) continue;
    label[static_cast<size_t>(start)] = components;
    stack.push_back(start);
    while (!stack.empty()) {
      const int64_t i = stack.back();
      stack.pop_back();
      for (int64_t e = graph.indptr[static_cast<size_t>(i)]; e < graph.indptr[static_cast<size_t>(i + 1)]; ++e) {
        const int64_t j = graph.indices[static_cast<size_t>(e)];
        if (label[static_cast<size_t>(j)] < 0) {
          label[static_cast<size_t>(j)] = components;
          stack.push_back(j);
        }
      }
    }
    ++components;
  }
  if (count) *count = components;
  return label;
}

Eigenpairs laplacian_eigenvectors(const SparseGraph& graph, int64_t count, uint64_t seed) {
  const int64_t n = graph.points;
  Eigenpairs out;
  if (count < 1 || count >= n) return out;
  // D^-1/2 and the trivial eigenvector D^1/2 1 (normalised).
  std::vector<double> inverse_root(static_cast<size_t>(n));
  at::Tensor trivial = torch::empty({n}, torch::kFloat64);
  for (int64_t i = 0; i < n; ++i) {
    double degree = 0;
    for (int64_t e = graph.indptr[static_cast<size_t>(i)]; e < graph.indptr[static_cast<size_t>(i + 1)]; ++e)
      degree += graph.values[static_cast<size_t>(e)];
    inverse_root[static_cast<size_t>(i)] = degree > 0 ? 1.0 / std::sqrt(degree) : 0.0;
    trivial[i] = std::sqrt(degree);
  }
  trivial /= trivial.norm();
  const at::Tensor trivial_row = trivial.unsqueeze(0);
  // y = D^-1/2 A D^-1/2 x, rows in parallel (the same sums for any threads).
  const auto product = [&](const at::Tensor& x) {
    at::Tensor y = torch::empty({n}, torch::kFloat64);
    const double* xs = x.data_ptr<double>();
    double* ys = y.data_ptr<double>();
    at::parallel_for(0, n, 1024, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        double sum = 0;
        for (int64_t e = graph.indptr[static_cast<size_t>(i)]; e < graph.indptr[static_cast<size_t>(i + 1)]; ++e) {
          const int64_t j = graph.indices[static_cast<size_t>(e)];
          sum += static_cast<double>(graph.values[static_cast<size_t>(e)]) * inverse_root[static_cast<size_t>(j)] * xs[j];
        }
        ys[i] = inverse_root[static_cast<size_t>(i)] * sum;
      }
    });
    return y;
  };

  const int64_t space = n - 1;  // the trivial vector is deflated
  const int64_t largest = std::min(space, std::max<int64_t>(2 * count + 8, 40));
  const int64_t keep = std::min(largest - 1, std::max<int64_t>(count + 2, largest / 2));
  at::Tensor basis = torch::zeros({largest, n}, torch::kFloat64);   // rows: orthonormal vectors
  at::Tensor images = torch::zeros({largest, n}, torch::kFloat64);  // rows: the product of each
  auto generator = at::detail::createCPUGenerator(seed);
  at::Tensor next = torch::randn({n}, generator, torch::kFloat64);
  int64_t columns = 0;
  at::Tensor ritz_values, ritz_vectors;
  while (true) {
    while (columns < largest) {
      at::Tensor v = next.clone();
      for (int attempt = 0; attempt < 3; ++attempt) {
        const double before = v.norm().item<double>();
        orthogonalise(v, trivial_row);
        orthogonalise(v, basis.slice(0, 0, columns));
        const double after = v.norm().item<double>();
        if (after > 1e-8 * std::max(before, 1e-300)) break;
        v = torch::randn({n}, generator, torch::kFloat64);  // an invariant subspace: start afresh
      }
      v /= v.norm();
      basis[columns].copy_(v);
      images[columns].copy_(product(v));
      ++out.products;
      next = images[columns];
      ++columns;
    }
    // Rayleigh-Ritz on the basis: H = V (M V)^T, largest eigenvalues first.
    const at::Tensor v = basis.slice(0, 0, columns), mv = images.slice(0, 0, columns);
    at::Tensor h = v.matmul(mv.t());
    h = (h + h.t()) / 2;
    auto [values, vectors] = torch::linalg_eigh(h);
    values = values.flip(0);
    vectors = vectors.flip(1);
    ritz_vectors = vectors.t().matmul(v);         // rows
    const at::Tensor ritz_images = vectors.t().matmul(mv);
    ritz_values = values;
    const at::Tensor residuals =
        (ritz_images.slice(0, 0, count) - values.slice(0, 0, count).unsqueeze(1) * ritz_vectors.slice(0, 0, count))
            .norm(2, 1);
    out.converged = residuals.max().item<double>() <= kResidualTolerance;
    if (out.converged || columns >= space || out.products >= kMaxProducts) break;
    // Restart from the best `keep` Ritz vectors and the Krylov direction.
    next = images[columns - 1].clone();
    orthogonalise(next, v);
    basis.slice(0, 0, keep).copy_(ritz_vectors.slice(0, 0, keep));
    images.slice(0, 0, keep).copy_(ritz_images.slice(0, 0, keep));
    columns = keep;
  }
  out.vectors = ritz_vectors.slice(0, 0, count).t().contiguous();
  for (int64_t c = 0; c < count; ++c) out.values.push_back(1.0 - ritz_values[c].item<double>());
  return out;
}

at::Tensor component_layout(const at::Tensor& data, const std::vector<int64_t>& label, int64_t components, int64_t dim,
                            const std::string& metric) {
  const auto n = static_cast<int64_t>(label.size());
  at::Tensor meta;
  if (components > 2 * dim) {
    const at::Tensor x = data.to(torch::kFloat64);
    at::Tensor centroids = torch::zeros({components, x.size(1)}, torch::kFloat64);
    at::Tensor sizes = torch::zeros({components}, torch::kFloat64);
    const at::Tensor labels = torch::tensor(label, torch::kLong);
    centroids.index_add_(0, labels, x);
    sizes.index_add_(0, labels, torch::ones({n}, torch::kFloat64));
    centroids /= sizes.unsqueeze(1);
    at::Tensor distances;
    if (metric == "cosine") {
      const at::Tensor unit = centroids / centroids.norm(2, 1, true).clamp_min(1e-300);
      distances = (1.0 - unit.matmul(unit.t())).clamp_min(0);
    } else {
      distances = torch::cdist(centroids, centroids);
    }
    meta = dense_spectral_embedding(torch::exp(-(distances * distances)), dim);
    meta /= meta.max();
    // Centroids so far apart that every affinity underflows give no layout
    // (umap-learn's is then arbitrary): the components go round a circle.
    const at::Tensor gaps = torch::cdist(meta, meta) + torch::eye(components, torch::kFloat64) * 1e300;
    if (!torch::isfinite(meta).all().item<bool>() || gaps.min().item<double>() <= 1e-6) {
      const at::Tensor angle = torch::arange(components, torch::kFloat64) * (2 * M_PI / static_cast<double>(components));
      meta = torch::zeros({components, dim}, torch::kFloat64);
      meta.select(1, 0).copy_(dim > 1 ? angle.cos() : torch::linspace(-1, 1, components, torch::kFloat64));
      if (dim > 1) meta.select(1, 1).copy_(angle.sin());
    }
  } else {
    const int64_t half = (components + 1) / 2;
    at::Tensor base = torch::zeros({half, dim}, torch::kFloat64);
    for (int64_t c = 0; c < half && c < dim; ++c) base[c][c] = 1.0;
    meta = torch::cat({base, -base}).slice(0, 0, components);
  }

  return meta;
}

SpectralLayout spectral_layout(const at::Tensor& data, const SparseGraph& graph, int64_t dim,
                               const std::string& metric, uint64_t seed) {
  const int64_t n = graph.points;
  SpectralLayout out;
  int64_t components = 0;
  const std::vector<int64_t> label = connected_components(graph, &components);
  out.components = components;
  auto generator = at::detail::createCPUGenerator(seed ^ 0x5bd1e995ULL);

  if (components == 1) {
    const Eigenpairs pairs = laplacian_eigenvectors(graph, dim, seed);
    if (pairs.converged) {
      out.coordinates = pairs.vectors;
      out.method = "spectral";
    } else {
      spdlog::warn("UMAP: the spectral initialisation did not converge ({} products); falling back to a random one",
                   pairs.products);
      out.coordinates = uniform(n, dim, -10.0, 10.0, generator);
      out.method = "random (the spectral initialisation did not converge)";
    }
    return out;
  }

  // multi_component_layout: where each component goes.
  const at::Tensor meta = component_layout(data, label, components, dim, metric);
  out.coordinates = torch::empty({n, dim}, torch::kFloat64);
  int64_t random_components = 0;
  for (int64_t c = 0; c < components; ++c) {
    std::vector<int64_t> members;
    for (int64_t i = 0; i < n; ++i)
      if (label[static_cast<size_t>(i)] == c) members.push_back(i);
    const at::Tensor rows = torch::tensor(members, torch::kLong);
    const at::Tensor distances = (meta - meta[c].unsqueeze(0)).norm(2, 1);
    const double data_range = distances.masked_select(distances > 0).min().item<double>() / 2.0;
    const auto size = static_cast<int64_t>(members.size());
    at::Tensor placed;
    if (size >= 2 * dim && size > dim + 1) {
      const Eigenpairs pairs = laplacian_eigenvectors(subgraph(graph, members), dim, seed + static_cast<uint64_t>(c));
      if (pairs.converged) placed = pairs.vectors * (data_range / pairs.vectors.abs().max().item<double>());
    }
    if (!placed.defined()) {
      placed = uniform(size, dim, -data_range, data_range, generator);
      ++random_components;
    }
    out.coordinates.index_copy_(0, rows, placed + meta[c].unsqueeze(0));
  }
  out.method = "spectral, " + std::to_string(components) + " components";
  if (random_components > 0) out.method += " (" + std::to_string(random_components) + " placed at random)";
  return out;
}

}  // namespace imret::viz::umap_detail
