// UMAP against umap-learn 0.5.3 (tests/unit/viz/umap_reference.py, Debian's
// /usr/bin/python3): each piece on the same input, then the whole map on
// real images by its trustworthiness.
#include "imret/viz/umap.hpp"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "imret/core/error.hpp"
#include "imret/core/npy.hpp"
#include "imret/viz/trustworthiness.hpp"
#include "imret/viz/umap_graph.hpp"
#include "imret/viz/umap_layout.hpp"
#include "imret/viz/umap_spectral.hpp"
#include "support/reference_files.hpp"

namespace fs = std::filesystem;
using namespace imret;
using namespace imret::viz;
using namespace imret::viz::umap_detail;

namespace {

using imret::testing::load;
using imret::testing::save;

fs::path folder(const std::string& name) { return imret::testing::reference_folder("viz_umap", name); }

// Runs `umap_reference.py COMMAND DIR ARGS`; 0 on success.
int reference(const std::string& command, const fs::path& dir, const std::string& args = "") {
  return imret::testing::run_reference("tests/unit/viz/umap_reference.py", command + " " + dir.string() + " " + args);
}

// Runs several "COMMAND DIR ARGS" in one Python process; 0 on success.
int reference_batch(const std::vector<std::string>& lines) {
  std::string args = "batch";
  for (const auto& command : lines) args += " '" + command + "'";
  return imret::testing::run_reference("tests/unit/viz/umap_reference.py", args);
}

double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

// Gaussian clusters: `clusters` centres (spread 10) in `dim` dimensions, unit noise.
at::Tensor clustered(int64_t n, int64_t dim, int64_t clusters, uint64_t seed, at::Tensor* labels = nullptr) {
  torch::manual_seed(seed);
  const at::Tensor centres = torch::randn({clusters, dim}) * 10;
  const at::Tensor label = torch::arange(n) % clusters;
  if (labels) *labels = label;
  return (centres.index_select(0, label) + torch::randn({n, dim})).contiguous();
}

at::Tensor as_tensor(const std::vector<float>& v) { return torch::tensor(v); }

at::Tensor dense(const SparseGraph& g) {
  at::Tensor out = torch::zeros({g.points, g.points}, torch::kFloat64);
  auto a = out.accessor<double, 2>();
  for (int64_t i = 0; i < g.points; ++i)
    for (int64_t e = g.indptr[i]; e < g.indptr[i + 1]; ++e) a[i][g.indices[e]] = g.values[e];
  return out;
}

SparseGraph sparse(const at::Tensor& m) {
  SparseGraph out;
  out.points = m.size(0);
  out.indptr.push_back(0);
  const at::Tensor c = m.to(torch::kFloat64).contiguous();
  auto a = c.accessor<double, 2>();
  for (int64_t i = 0; i < out.points; ++i) {
    for (int64_t j = 0; j < out.points; ++j)
      if (a[i][j] != 0) {
        out.indices.push_back(j);
        out.values.push_back(static_cast<float>(a[i][j]));
      }
    out.indptr.push_back(out.edges());
  }
  return out;
}

void save_neighbours(const fs::path& dir, const NeighbourGraph& g) {
  std::vector<float> ids(g.ids.begin(), g.ids.end());
  save(dir / "knn_ids.npy", torch::tensor(ids).reshape({g.points, g.k}));
  save(dir / "knn_dists.npy", torch::tensor(g.distances).reshape({g.points, g.k}));
}

UmapOptions quiet() {
  UmapOptions o;
  o.progress = false;
  return o;
}

// Points with exact duplicates (distance 0 to a neighbour: rho's non-zero rule).
at::Tensor with_duplicates() {
  at::Tensor data = clustered(300, 12, 5, 21);
  for (int64_t i = 0; i < 20; ++i) data[100 + i] = data[i];
  return data.contiguous();
}

}  // namespace

TEST(UmapGraph, NeighboursAreExactWithThePointItselfFirst) {
  const at::Tensor data = clustered(400, 16, 4, 1);
  for (const std::string metric : {"euclidean", "cosine"}) {
    const NeighbourGraph g = nearest_neighbours(data, 10, metric, "exact");
    at::Tensor distance;
    if (metric == "euclidean") {
      distance = torch::cdist(data.to(torch::kFloat64), data.to(torch::kFloat64));
    } else {
      const at::Tensor unit = torch::nn::functional::normalize(data.to(torch::kFloat64),
                                                               torch::nn::functional::NormalizeFuncOptions().dim(1));
      distance = 1.0 - unit.matmul(unit.t());
    }
    distance.fill_diagonal_(-1);  // the point itself first
    const at::Tensor expected = std::get<1>(distance.topk(10, 1, /*largest=*/false));
    const at::Tensor ids = torch::tensor(g.ids).reshape({400, 10});
    EXPECT_TRUE(torch::equal(ids.select(1, 0), torch::arange(400))) << metric;
    EXPECT_TRUE(torch::equal(ids, expected)) << metric;
    distance.fill_diagonal_(0);
    const at::Tensor expected_distance = distance.gather(1, expected);
    EXPECT_LE(max_abs(torch::tensor(g.distances).reshape({400, 10}).to(torch::kFloat64) - expected_distance), 1e-5)
        << metric;
  }
}

TEST(UmapGraph, SmoothKnnDistancesMatchUmapLearn) {
  const NeighbourGraph g = nearest_neighbours(with_duplicates(), 15, "euclidean", "exact");
  const std::vector<double> connectivities = {1.0, 1.5, 0.5};
  std::vector<std::string> commands;
  for (const double connectivity : connectivities) {
    const fs::path dir = folder("smooth_" + std::to_string(connectivity));
    save_neighbours(dir, g);
    commands.push_back("smooth " + dir.string() + " " + std::to_string(connectivity));
  }
  ASSERT_EQ(reference_batch(commands), 0);
  for (const double connectivity : connectivities) {
    const fs::path dir = folder("smooth_" + std::to_string(connectivity));
    const SmoothDistances ours = smooth_knn_distances(g, connectivity);
    const at::Tensor sigmas = load(dir / "sigmas.npy").reshape(-1), rhos = load(dir / "rhos.npy").reshape(-1);
    EXPECT_LE(max_abs(as_tensor(ours.rhos) - rhos), 1e-6 * max_abs(rhos)) << connectivity;
    EXPECT_LE(max_abs(as_tensor(ours.sigmas) - sigmas), 1e-5 * max_abs(sigmas)) << connectivity;
  }
}

TEST(UmapGraph, FuzzySimplicialSetMatchesUmapLearn) {
  const NeighbourGraph g = nearest_neighbours(with_duplicates(), 15, "euclidean", "exact");
  std::vector<std::string> commands;
  for (const double mix : {1.0, 0.25}) {
    const fs::path dir = folder("graph_" + std::to_string(mix));
    save_neighbours(dir, g);
    commands.push_back("graph " + dir.string() + " " + std::to_string(mix) + " 1.0");
  }
  ASSERT_EQ(reference_batch(commands), 0);
  for (const double mix : {1.0, 0.25}) {
    const fs::path dir = folder("graph_" + std::to_string(mix));
    const at::Tensor ours = dense(fuzzy_simplicial_set(g, 1.0, mix)), expected = load(dir / "graph.npy").to(torch::kFloat64);
    EXPECT_TRUE(torch::equal(ours != 0, expected != 0)) << "the edges differ, mix " << mix;
    EXPECT_LE(max_abs(ours - expected), 1e-5) << mix;
    EXPECT_TRUE(torch::equal(ours, ours.t())) << mix;
    EXPECT_GT(max_abs(expected - expected.gt(0).to(torch::kFloat64)), 0.1);  // not a 0/1 matrix
  }
}

TEST(UmapLayout, AbParamsMatchCurveFit) {
  const std::vector<std::pair<double, double>> cases = {{1.0, 0.1}, {1.0, 0.0}, {1.0, 0.5}, {2.0, 0.3}, {0.5, 0.5}};
  std::vector<std::string> commands;
  for (size_t c = 0; c < cases.size(); ++c)
    commands.push_back("ab " + folder("ab_" + std::to_string(c)).string() + " " + std::to_string(cases[c].first) + " " +
                       std::to_string(cases[c].second));
  ASSERT_EQ(reference_batch(commands), 0);
  for (size_t c = 0; c < cases.size(); ++c) {
    const auto [spread, min_dist] = cases[c];
    const fs::path dir = folder("ab_" + std::to_string(c));
    double a = 0, b = 0;
    std::ifstream(dir / "ab.txt") >> a >> b;
    const auto [ours_a, ours_b] = find_ab_params(spread, min_dist);
    EXPECT_NEAR(ours_a, a, 1e-5 * a) << spread << " " << min_dist;
    EXPECT_NEAR(ours_b, b, 1e-5 * b) << spread << " " << min_dist;
  }
  // umap-learn's well-known defaults.
  const auto [a, b] = find_ab_params(1.0, 0.1);
  EXPECT_NEAR(a, 1.577, 1e-3);
  EXPECT_NEAR(b, 0.895, 1e-3);
}

TEST(UmapLayout, EpochsPerSampleMatchUmapLearn) {
  const fs::path dir = folder("epochs");
  torch::manual_seed(4);
  const at::Tensor weights = torch::rand({1, 500}) * torch::rand({1, 500}).gt(0.1);
  save(dir / "weights.npy", weights);
  ASSERT_EQ(reference("epochs", dir, "200"), 0);
  const at::Tensor stored = load(dir / "weights.npy").reshape(-1).contiguous();
  const std::vector<float> w(stored.data_ptr<float>(), stored.data_ptr<float>() + 500);
  const std::vector<double> ours = epochs_per_sample(w, 200);
  const at::Tensor expected = load(dir / "epochs.npy").reshape(-1).to(torch::kFloat64);
  const at::Tensor got = torch::tensor(ours, torch::kFloat64);
  EXPECT_TRUE(torch::equal(got < 0, expected < 0));
  EXPECT_LE(max_abs((got - expected) / expected), 1e-6);
  EXPECT_DOUBLE_EQ(got.min().item<double>(), -1.0);
}

TEST(UmapSpectral, EigenvectorsSpanUmapLearnsSpectralLayout) {
  const fs::path dir = folder("spectral");
  // A connected graph with a clear cluster structure (small eigengaps).
  torch::manual_seed(9);
  const at::Tensor centres = torch::randn({4, 8}) * 1.5;
  const at::Tensor data = (centres.index_select(0, torch::arange(600) % 4) + torch::randn({600, 8})).contiguous();
  const NeighbourGraph g = nearest_neighbours(data, 15, "euclidean", "exact");
  const SparseGraph graph = fuzzy_simplicial_set(g, 1.0, 1.0);
  int64_t components = 0;
  connected_components(graph, &components);
  ASSERT_EQ(components, 1);
  save(dir / "graph.npy", dense(graph));
  ASSERT_EQ(reference("spectral", dir, "2"), 0);
  const SparseGraph stored = sparse(load(dir / "graph.npy"));
  const Eigenpairs ours = laplacian_eigenvectors(stored, 2, 0);
  ASSERT_TRUE(ours.converged);
  const at::Tensor theirs = load(dir / "layout.npy").to(torch::kFloat64);
  const at::Tensor values = load(dir / "eigenvalues.npy").reshape(-1).to(torch::kFloat64);
  for (int64_t c = 0; c < 2; ++c) EXPECT_NEAR(ours.values[c], values[c].item<double>(), 1e-5) << c;
  EXPECT_GT(values[1].item<double>() - values[0].item<double>(), 1e-4);  // distinct: vectors defined up to sign
  // Each vector equals umap-learn's up to its sign.
  for (int64_t c = 0; c < 2; ++c) {
    const double cosine = std::abs(ours.vectors.select(1, c).dot(theirs.select(1, c)).item<double>() /
                                   theirs.select(1, c).norm().item<double>());
    EXPECT_GT(cosine, 0.9999) << c;
  }
  // And they are eigenvectors of L = I - D^-1/2 A D^-1/2.
  const at::Tensor a = dense(stored), root = a.sum(1).rsqrt();
  const at::Tensor laplacian = torch::eye(600, torch::kFloat64) - root.unsqueeze(1) * a * root.unsqueeze(0);
  const at::Tensor residual = laplacian.matmul(ours.vectors) - ours.vectors * torch::tensor(ours.values, torch::kFloat64);
  EXPECT_LE(max_abs(residual), 1e-5);
}

// Tight clusters (no neighbours across them) around `clusters` centres.
at::Tensor separate_clusters(int64_t clusters, double spread, at::Tensor* labels) {
  torch::manual_seed(5);
  const at::Tensor centres = torch::randn({clusters, 6}) * spread;
  *labels = torch::arange(70 * clusters) % clusters;
  return (centres.index_select(0, *labels) + torch::randn({70 * clusters, 6}) * 0.02).contiguous();
}

std::vector<int64_t> labels_of(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kLong).contiguous().reshape(-1);
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

TEST(UmapSpectral, ComponentPlacesMatchUmapLearn) {
  const fs::path dir = folder("components");
  at::Tensor labels;
  const at::Tensor data = separate_clusters(7, 0.3, &labels);  // centroids ~1 apart: affinities well above 0
  save(dir / "data.npy", data);
  save(dir / "labels.npy", labels.unsqueeze(1));
  ASSERT_EQ(reference("components", dir, "2"), 0);
  const at::Tensor ours = component_layout(data, labels_of(labels), 7, 2, "euclidean");
  const at::Tensor expected = load(dir / "meta.npy").to(torch::kFloat64);
  EXPECT_GT(expected.std().item<double>(), 0.1);
  EXPECT_LE(max_abs(ours - expected), 1e-5);
  // Too far apart for any affinity: round the unit circle.
  const at::Tensor far = component_layout(separate_clusters(7, 30.0, &labels), labels_of(labels), 7, 2, "euclidean");
  EXPECT_LE(max_abs(far.norm(2, 1) - 1.0), 1e-12);
  EXPECT_NEAR(torch::cdist(far, far).add(torch::eye(7, torch::kFloat64) * 9).min().item<double>(), 2 * std::sin(M_PI / 7),
              1e-12);
}

TEST(UmapSpectral, DisconnectedGraphsGetOneLayoutPerComponent) {
  // 3 components: placed at +-e_i; 7 (> 2 dim): at a spectral layout of the
  // centroids, or round a circle when they are too far apart for one.
  for (const auto& [clusters, spread] : std::vector<std::pair<int64_t, double>>{{3, 1.5}, {7, 0.3}, {7, 30.0}}) {
    at::Tensor labels;
    const at::Tensor data = separate_clusters(clusters, spread, &labels);
    const SparseGraph graph = fuzzy_simplicial_set(nearest_neighbours(data, 10, "euclidean", "exact"), 1.0, 1.0);
    const SpectralLayout layout = spectral_layout(data, graph, 2, "euclidean", 0);
    ASSERT_EQ(layout.components, clusters);
    EXPECT_EQ(layout.method, "spectral, " + std::to_string(clusters) + " components");
    // Component c is its own spectral layout scaled to reach exactly half the
    // distance from its place to the nearest other place (in max-norm).
    const at::Tensor meta = component_layout(data, labels_of(labels), clusters, 2, "euclidean");
    if (clusters == 3) EXPECT_TRUE(torch::equal(meta, torch::tensor({1.0, 0.0, 0.0, 1.0, -1.0, 0.0}, torch::kFloat64).reshape({3, 2})));
    const at::Tensor gaps = torch::cdist(meta, meta) + torch::eye(clusters, torch::kFloat64) * 1e9;
    for (int64_t c = 0; c < clusters; ++c) {
      const at::Tensor members = layout.coordinates.index_select(0, (labels == c).nonzero().reshape(-1));
      const double reach = (members - meta[c]).abs().max().item<double>();
      EXPECT_NEAR(reach, gaps[c].min().item<double>() / 2, 1e-9) << clusters << " " << spread << " " << c;
      EXPECT_GT(members.std(0).min().item<double>(), 0.01 * reach);  // spread out, not one point
    }
  }
}

TEST(Umap, TrustworthinessMatchesUmapLearnOnFashionMnist) {
  const fs::path dir = folder("fashion");
  ASSERT_EQ(reference_batch({"fashion " + dir.string() + " 1500", "umap " + dir.string() + " 0"}), 0);
  const at::Tensor data = load(dir / "data.npy");
  const at::Tensor label_column = load(dir / "labels.npy").reshape(-1).to(torch::kLong).contiguous();
  const std::vector<int64_t> labels(label_column.data_ptr<int64_t>(), label_column.data_ptr<int64_t>() + 1500);
  const UmapResult ours = umap(data, quiet());
  EXPECT_EQ(ours.epochs, 500);
  EXPECT_EQ(ours.init, "spectral");
  const at::Tensor theirs = load(dir / "embedding.npy");
  const double our_trust = trustworthiness(data, ours.embedding, 10), their_trust = trustworthiness(data, theirs, 10);
  const double our_accuracy = knn_accuracy(ours.embedding, labels, 10), their_accuracy = knn_accuracy(theirs, labels, 10);
  std::cout << "trustworthiness@10 imret " << our_trust << ", umap-learn " << their_trust << "; 10-NN accuracy in 2-D "
            << our_accuracy << ", " << their_accuracy << "\n";
  EXPECT_NEAR(our_trust, their_trust, 0.01);
  EXPECT_NEAR(our_accuracy, their_accuracy, 0.03);
  // A good map, not two equally poor ones.
  EXPECT_GT(our_trust, 0.95);
}

TEST(Umap, SameResultForAnyNumberOfThreads) {
  const at::Tensor data = clustered(800, 10, 5, 2);
  UmapOptions options = quiet();
  options.n_epochs = 60;
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const at::Tensor one = umap(data, options).embedding;
  at::set_num_threads(2);
  const at::Tensor two = umap(data, options).embedding;
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one, two));
  options.seed = 1;
  EXPECT_FALSE(torch::equal(one, umap(data, options).embedding));
}

TEST(Umap, OptionsShapeTheMap) {
  at::Tensor labels;
  const at::Tensor data = clustered(600, 10, 4, 6, &labels);
  const std::vector<int64_t> label_vector(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + 600);
  UmapOptions options = quiet();
  options.init = "random";
  options.metric = "cosine";
  options.n_components = 3;
  const UmapResult result = umap(data, options);
  EXPECT_EQ(result.embedding.sizes(), (std::vector<int64_t>{600, 3}));
  EXPECT_EQ(result.init, "random");
  EXPECT_GT(knn_accuracy(result.embedding, label_vector, 10), 0.99);  // four well-separated clusters
  // A larger min_dist spreads the points out: their nearest neighbours in the map are farther.
  const auto nearest_distance = [](const at::Tensor& y) {
    at::Tensor d = torch::cdist(y, y);
    d.fill_diagonal_(1e30);
    return std::get<0>(d.min(1)).median().item<double>();
  };
  options = quiet();
  options.n_epochs = 100;
  const UmapResult tight = umap(data, options);
  options.min_dist = 0.8;
  const UmapResult wide = umap(data, options);
  EXPECT_EQ(wide.epochs, 100);
  EXPECT_GT(nearest_distance(wide.embedding), 1.5 * nearest_distance(tight.embedding));
}

TEST(Umap, RejectsBadOptions) {
  const at::Tensor data = clustered(50, 4, 2, 3);
  const auto fails = [&](auto change) {
    UmapOptions options = quiet();
    change(options);
    EXPECT_THROW(umap(data, options), UsageError);
  };
  fails([](UmapOptions& o) { o.n_neighbors = 1; });
  fails([](UmapOptions& o) { o.n_neighbors = 50; });
  fails([](UmapOptions& o) { o.min_dist = 1.5; });
  fails([](UmapOptions& o) { o.min_dist = -0.1; });
  fails([](UmapOptions& o) { o.set_op_mix_ratio = 1.5; });
  fails([](UmapOptions& o) { o.learning_rate = 0; });
  fails([](UmapOptions& o) { o.init = "pca"; });
  fails([](UmapOptions& o) { o.metric = "manhattan"; });
  fails([](UmapOptions& o) { o.neighbours = "annoy"; });
  fails([](UmapOptions& o) { o.n_components = 0; });
  try {
    UmapOptions options = quiet();
    options.min_dist = 2;
    umap(data, options);
  } catch (const UsageError& e) {
    EXPECT_EQ(std::string(e.what()), "UMAP min_dist 2: must be at most spread (1)");
  }
  EXPECT_NO_THROW(umap(data.slice(0, 0, 20), [] {
    UmapOptions o = quiet();
    o.n_neighbors = 19;
    o.n_epochs = 20;
    return o;
  }()));
}
