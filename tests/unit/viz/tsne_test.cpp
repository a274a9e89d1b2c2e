#include "imret/viz/tsne.hpp"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "imret/core/error.hpp"
#include "imret/core/npy.hpp"
#include "imret/viz/trustworthiness.hpp"
#include "imret/viz/tsne_affinities.hpp"
#include "imret/viz/tsne_gradient.hpp"
#include "support/reference_files.hpp"

namespace fs = std::filesystem;
using namespace imret;
using namespace imret::viz;
using namespace imret::viz::tsne_detail;

namespace {

using imret::testing::load;
using imret::testing::save;

// A folder per test for the arrays exchanged with tests/unit/viz/tsne_reference.py.
fs::path folder(const std::string& name) { return imret::testing::reference_folder("viz", name); }

// Runs `tsne_reference.py COMMAND DIR ARGS`; 0 on success.
int reference(const std::string& command, const fs::path& dir, const std::string& args = "") {
  return imret::testing::run_reference("tests/unit/viz/tsne_reference.py", command + " " + dir.string() + " " + args);
}

double max_abs(const at::Tensor& t) { return t.abs().max().item<double>(); }

at::Tensor dense(const SparseAffinities& p) {
  at::Tensor out = torch::zeros({p.points, p.points}, torch::kFloat64);
  auto a = out.accessor<double, 2>();
  for (int64_t i = 0; i < p.points; ++i)
    for (int64_t e = p.indptr[i]; e < p.indptr[i + 1]; ++e) a[i][p.indices[e]] = p.values[e];
  return out;
}

SparseAffinities sparse(const at::Tensor& p) {
  SparseAffinities out;
  out.points = p.size(0);
  out.indptr.push_back(0);
  const at::Tensor c = p.to(torch::kFloat64).contiguous();
  auto a = c.accessor<double, 2>();
  for (int64_t i = 0; i < out.points; ++i) {
    for (int64_t j = 0; j < out.points; ++j)
      if (a[i][j] != 0) {
        out.indices.push_back(j);
        out.values.push_back(static_cast<float>(a[i][j]));
      }
    out.indptr.push_back(static_cast<int64_t>(out.indices.size()));
  }
  return out;
}

std::vector<double> as_vector(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kFloat64).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// Gaussian clusters: `clusters` centres (spread 10) in `dim` dimensions, unit noise.
at::Tensor clustered(int64_t n, int64_t dim, int64_t clusters, uint64_t seed, at::Tensor* labels = nullptr) {
  torch::manual_seed(seed);
  const at::Tensor centres = torch::randn({clusters, dim}) * 10;
  const at::Tensor label = torch::arange(n) % clusters;
  if (labels) *labels = label;
  return centres.index_select(0, label) + torch::randn({n, dim});
}

std::vector<int64_t> labels_of(const at::Tensor& t) {
  const at::Tensor c = t.to(torch::kInt64).contiguous().reshape({-1});
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

TsneOptions quiet() {
  TsneOptions o;
  o.progress = false;
  return o;
}

}  // namespace

TEST(TsneAffinities, ConditionalProbabilitiesMatchSklearnBinarySearch) {
  for (const int64_t columns : {91, 120}) {  // 91 neighbours; 120 = all pairs of 120 points (diagonal left out)
    const fs::path dir = folder("perplexity_" + std::to_string(columns));
    torch::manual_seed(3);
    const at::Tensor points = torch::randn({120, 5});
    at::Tensor sqdist = torch::cdist(points, points).pow(2);
    if (columns < 120) sqdist = std::get<0>(sqdist.sort(1)).slice(1, 1, columns + 1);  // drop the zero self-distance
    sqdist = sqdist.contiguous();
    save(dir / "sqdist.npy", sqdist);
    ASSERT_EQ(reference("perplexity", dir, "30"), 0);
    const std::vector<float> ours = conditional_probabilities(sqdist.data_ptr<float>(), 120, columns, 30.0);
    const at::Tensor got = torch::tensor(ours).reshape({120, columns});
    const at::Tensor expected = load(dir / "conditional.npy");
    EXPECT_LE(max_abs(got - expected), 1e-5) << "columns " << columns;
    EXPECT_NEAR(got.sum(1).min().item<double>(), 1.0, 1e-5);
    if (columns == 120) {
      EXPECT_EQ(got.diagonal().abs().max().item<double>(), 0.0);
    }
    // The calibration did something: rows are far from uniform.
    EXPECT_GT(max_abs(got - 1.0 / columns), 0.01);
  }
}

TEST(TsneAffinities, NearestNeighbourJointProbabilitiesMatchSklearn) {
  const fs::path dir = folder("joint_nn");
  at::Tensor data = clustered(300, 20, 6, 5);
  data[17] = data[4];  // a duplicate: still each other's neighbour at distance 0
  save(dir / "data.npy", data);
  ASSERT_EQ(reference("joint_nn", dir, "10"), 0);
  const int64_t k = 31;  // min(N - 1, int(3 * 10 + 1))
  const SparseAffinities p = joint_probabilities_nn(nearest_neighbours(data.contiguous(), k), 10.0);
  const at::Tensor ours = dense(p), expected = load(dir / "p.npy").to(torch::kFloat64);
  EXPECT_TRUE(torch::equal(ours != 0, expected != 0)) << "the neighbour graphs differ";
  EXPECT_LE(max_abs(ours - expected), 1e-5 * max_abs(expected));
  EXPECT_NEAR(ours.sum().item<double>(), 1.0, 1e-6);
  EXPECT_TRUE(torch::allclose(ours, ours.t()));
}

TEST(TsneAffinities, ExactJointProbabilitiesMatchSklearn) {
  const fs::path dir = folder("joint_exact");
  const at::Tensor data = clustered(150, 10, 4, 6);
  save(dir / "data.npy", data);
  ASSERT_EQ(reference("joint_exact", dir, "20"), 0);
  const at::Tensor ours =
      torch::tensor(joint_probabilities_exact(data.contiguous(), 20.0)).reshape({150, 150});
  const at::Tensor expected = load(dir / "p.npy").to(torch::kFloat64);
  EXPECT_LE(max_abs(ours - expected), 1e-5 * max_abs(expected));
}

// KL and gradient for a fixed P and Y against sklearn's _kl_divergence
// (exact) and _kl_divergence_bh (Barnes-Hut, the same tree and criterion).
class TsneGradient : public ::testing::TestWithParam<int64_t> {
 protected:
  void SetUp() override {
    dims_ = GetParam();
    dof_ = static_cast<int>(std::max<int64_t>(dims_ - 1, 1));
    torch::manual_seed(8);
    y_ = (torch::randn({400, dims_}) * 3).contiguous();
  }
  void expect_reference(const fs::path& dir, const at::Tensor& grad, double kl) {
    const at::Tensor expected = load(dir / "grad.npy");
    const double expected_kl = load(dir / "kl.npy").item<double>();
    EXPECT_GT(max_abs(expected), 1e-6) << "a trivial reference gradient";
    EXPECT_LE(max_abs(grad - expected), 1e-4 * max_abs(expected));
    EXPECT_NEAR(kl, expected_kl, 1e-5 * std::abs(expected_kl));
  }
  int64_t dims_ = 2;
  int dof_ = 1;
  at::Tensor y_;
};

TEST_P(TsneGradient, ExactMatchesSklearn) {
  const fs::path dir = folder("kl_exact_" + std::to_string(dims_));
  const at::Tensor p = torch::tensor(joint_probabilities_exact(clustered(400, 10, 5, 9).contiguous(), 30.0))
                           .reshape({400, 400});
  save(dir / "p.npy", p);
  save(dir / "y.npy", y_);
  ASSERT_EQ(reference("kl", dir, std::to_string(dof_)), 0);
  // The same float32 P sklearn read.
  const std::vector<double> p32 = as_vector(load(dir / "p.npy"));
  at::Tensor grad = torch::empty_like(y_);
  const double kl = exact_kl_gradient(p32, 1.0, y_.data_ptr<float>(), 400, dims_, dof_, grad.data_ptr<float>(), true);
  expect_reference(dir, grad, kl);
}

TEST_P(TsneGradient, BarnesHutMatchesSklearn) {
  const fs::path dir = folder("kl_bh_" + std::to_string(dims_));
  const SparseAffinities p = joint_probabilities_nn(nearest_neighbours(clustered(400, 10, 5, 9).contiguous(), 91), 30);
  save(dir / "p.npy", dense(p));
  save(dir / "y.npy", y_);
  ASSERT_EQ(reference("kl_bh", dir, std::to_string(dof_) + " 0.5"), 0);
  at::Tensor grad = torch::empty_like(y_);
  const double kl = barnes_hut_kl_gradient(p, 1.0, y_.data_ptr<float>(), dims_, dof_, 0.5, grad.data_ptr<float>(), true);
  expect_reference(dir, grad, kl);
}

TEST_P(TsneGradient, BarnesHutAtAngleZeroIsTheExactGradient) {
  const at::Tensor p = torch::tensor(joint_probabilities_exact(clustered(400, 10, 5, 9).contiguous(), 30.0))
                           .reshape({400, 400});
  at::Tensor exact = torch::empty_like(y_), bh = torch::empty_like(y_), bh_approx = torch::empty_like(y_);
  const double exact_kl =
      exact_kl_gradient(as_vector(p), 12.0, y_.data_ptr<float>(), 400, dims_, dof_, exact.data_ptr<float>(), true);
  const double bh_kl =
      barnes_hut_kl_gradient(sparse(p), 12.0, y_.data_ptr<float>(), dims_, dof_, 0.0, bh.data_ptr<float>(), true);
  EXPECT_LE(max_abs(bh - exact), 1e-4 * max_abs(exact));
  EXPECT_NEAR(bh_kl, exact_kl, 1e-5 * std::abs(exact_kl));
  // angle 0.5 approximates: close, but not equal.
  barnes_hut_kl_gradient(sparse(p), 12.0, y_.data_ptr<float>(), dims_, dof_, 0.5, bh_approx.data_ptr<float>(), false);
  const double approx_error = max_abs(bh_approx - exact) / max_abs(exact);
  EXPECT_GT(approx_error, 1e-6);
  EXPECT_LT(approx_error, 0.1);
}

TEST_P(TsneGradient, DeepTreesOfNearDuplicatesWalkAsTheExactSum) {
  // 40 points 1e-4 apart on a line (distinct: more than 1e-6 apart): the tree
  // splits them some 15 levels deep, so the walks' stacks grow deep. At angle
  // 0 the walk must still visit every other point once.
  at::Tensor y = y_.clone();
  y.slice(0, 0, 40) = y[0] + torch::arange(40, torch::kFloat).unsqueeze(1) * 1e-4;
  y = y.contiguous();
  const at::Tensor p = torch::tensor(joint_probabilities_exact(clustered(400, 10, 5, 9).contiguous(), 30.0))
                           .reshape({400, 400});
  at::Tensor exact = torch::empty_like(y), bh = torch::empty_like(y);
  const double exact_kl =
      exact_kl_gradient(as_vector(p), 1.0, y.data_ptr<float>(), 400, dims_, dof_, exact.data_ptr<float>(), true);
  const double bh_kl =
      barnes_hut_kl_gradient(sparse(p), 1.0, y.data_ptr<float>(), dims_, dof_, 0.0, bh.data_ptr<float>(), true);
  EXPECT_LE(max_abs(bh - exact), 1e-4 * max_abs(exact));
  EXPECT_NEAR(bh_kl, exact_kl, 1e-5 * std::abs(exact_kl));
}

INSTANTIATE_TEST_SUITE_P(Dimensions, TsneGradient, ::testing::Values(2, 3));

// End to end on the same data: imret's t-SNE and sklearn's TSNE (defaults,
// fixed seeds) must reach the same quality.
void expect_quality_like_sklearn(const std::string& name, const at::Tensor& data, const std::vector<int64_t>& labels,
                                 const std::string& method) {
  const fs::path dir = folder(name);
  save(dir / "data.npy", data);
  ASSERT_EQ(reference("tsne", dir, method + " 0"), 0);
  const at::Tensor theirs = load(dir / "embedding.npy");
  const double their_kl = load(dir / "kl.npy").item<double>();

  TsneOptions options = quiet();
  options.method = method;
  const TsneResult ours = tsne(data, options);
  ASSERT_EQ(ours.embedding.sizes(), theirs.sizes());
  EXPECT_EQ(ours.iterations, 1000);

  const double our_trust = trustworthiness(data, ours.embedding, 10), their_trust = trustworthiness(data, theirs, 10);
  const double our_knn = knn_accuracy(ours.embedding, labels, 10), their_knn = knn_accuracy(theirs, labels, 10);
  std::cout << name << ": trustworthiness(10) imret " << our_trust << " sklearn " << their_trust
            << "; 10-NN accuracy imret " << our_knn << " sklearn " << their_knn << "; KL imret " << ours.kl_divergence
            << " sklearn " << their_kl << "\n";
  EXPECT_NEAR(our_trust, their_trust, 0.01);
  EXPECT_NEAR(our_knn, their_knn, 0.03);
  EXPECT_NEAR(ours.kl_divergence, their_kl, 0.1 * their_kl);
}

TEST(Tsne, BarnesHutMatchesSklearnQualityOnFashionMnist) {
  const fs::path dir = folder("fashion");
  ASSERT_EQ(reference("fashion", dir, "1500"), 0);
  expect_quality_like_sklearn("fashion", load(dir / "data.npy"), labels_of(load(dir / "labels.npy")), "barnes_hut");
}

TEST(Tsne, ExactMatchesSklearnQualityOnClusters) {
  at::Tensor labels;
  const at::Tensor data = clustered(300, 50, 5, 12, &labels);
  expect_quality_like_sklearn("exact", data, labels_of(labels), "exact");
}

TEST(Tsne, SameSeedSameEmbeddingWhateverTheThreads) {
  const at::Tensor data = clustered(500, 20, 5, 13).to(torch::kFloat64);  // any float dtype
  TsneOptions options = quiet();
  options.iterations = 300;
  for (const std::string init : {"pca", "random"}) {
    options.init = init;
    const int threads = at::get_num_threads();
    at::set_num_threads(1);
    const TsneResult one = tsne(data, options);
    at::set_num_threads(2);
    const TsneResult two = tsne(data, options);
    at::set_num_threads(threads);
    EXPECT_EQ(one.embedding.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(one.embedding, two.embedding)) << init;
    EXPECT_EQ(one.kl_divergence, two.kl_divergence) << init;
    // The seed draws the random initialisation; PCA's (exact) has nothing to draw.
    options.seed = 1;
    EXPECT_EQ(torch::equal(tsne(data, options).embedding, one.embedding), init == "pca") << init;
    options.seed = 0;
  }
}

TEST(Tsne, InitialisationHasSklearnScale) {
  // One iteration's worth of movement is tiny next to 1e-4 only if the
  // learning rate is tiny: with learning_rate 1e-12 the result is the start.
  const at::Tensor data = clustered(200, 10, 3, 14);
  TsneOptions options = quiet();
  options.iterations = 250;
  options.learning_rate = 1e-12;
  for (const std::string init : {"pca", "random"}) {
    options.init = init;
    const at::Tensor y = tsne(data, options).embedding;
    EXPECT_NEAR(y.select(1, 0).std(false).item<double>(), 1e-4, init == "pca" ? 1e-8 : 2e-5) << init;
  }
  // PCA: the first column follows the data's main direction (up to sign).
  options.init = "pca";
  const at::Tensor y = tsne(data, options).embedding.to(torch::kFloat64);
  const at::Tensor centred = data.to(torch::kFloat64) - data.to(torch::kFloat64).mean(0);
  const at::Tensor first_pc = std::get<2>(torch::linalg_svd(centred, false))[0];
  const at::Tensor projection = centred.matmul(first_pc);
  const double correlation = torch::corrcoef(torch::stack({projection, y.select(1, 0)}))[0][1].item<double>();
  EXPECT_GT(std::abs(correlation), 0.9999);
}

TEST(Tsne, StopsAtTheChecksAsSklearn) {
  // min_grad_norm huge: the exploration stage stops at its first check
  // (iteration index 49); the final stage starts at 50 and stops at its first
  // check (index 99): sklearn's n_iter_ is 99, i.e. 100 iterations run.
  const at::Tensor data = clustered(100, 5, 2, 15);
  TsneOptions options = quiet();
  options.min_grad_norm = 1e9;
  const TsneResult r = tsne(data, options);
  EXPECT_EQ(r.iterations, 100);
  EXPECT_TRUE(std::isfinite(r.kl_divergence));
  options.min_grad_norm = 0;
  options.iterations = 260;
  EXPECT_EQ(tsne(data, options).iterations, 260);
}

namespace {
// The call throws UsageError whose message names `option`.
template <typename F>
void expect_usage_error(F&& call, const std::string& option) {
  try {
    call();
    ADD_FAILURE() << "no error for " << option;
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(option), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(Tsne, BadOptionsAreUsageErrorsNamingTheOption) {
  const at::Tensor data = torch::randn({20, 4});
  const auto with = [&](auto change) {
    TsneOptions o = quiet();
    o.perplexity = 5;  // valid for 20 points: only `change` is wrong
    change(o);
    return [o, &data] { tsne(data, o); };
  };
  expect_usage_error(with([](TsneOptions& o) { o.perplexity = 20; }), "perplexity");
  expect_usage_error(with([](TsneOptions& o) { o.perplexity = 0; }), "perplexity");
  expect_usage_error(with([](TsneOptions& o) { o.method = "fft"; }), "method");
  expect_usage_error(with([](TsneOptions& o) { o.init = "spectral"; }), "init");
  expect_usage_error(with([](TsneOptions& o) { o.dimensions = 4; }), "dimensions");
  expect_usage_error(with([](TsneOptions& o) { o.iterations = 100; }), "iterations");
  expect_usage_error(with([](TsneOptions& o) { o.angle = 1.5; }), "angle");
  expect_usage_error(with([](TsneOptions& o) { o.early_exaggeration = 0.5; }), "early_exaggeration");
  expect_usage_error([] { tsne(torch::randn({1, 4}), quiet()); }, "at least 2 points");
  at::Tensor bad = data.clone();
  bad[3][1] = std::nan("");
  TsneOptions valid = quiet();
  valid.perplexity = 5;
  expect_usage_error([&] { tsne(bad, valid); }, "NaN");
  TsneOptions exact4 = quiet();
  exact4.method = "exact";
  exact4.dimensions = 4;
  exact4.perplexity = 5;
  EXPECT_EQ(tsne(data, exact4).embedding.size(1), 4);  // exact: any number of dimensions
}
