#include "imret/viz/pca.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

#include "imret/core/error.hpp"
#include "imret/core/npy.hpp"
#include "support/reference_files.hpp"

namespace fs = std::filesystem;
using namespace imret;

namespace {

using imret::testing::load;

// sklearn's PCA(n_components=k, svd_solver="full") on the same data.
struct Reference {
  at::Tensor projected, components, ratio, variance;
};

Reference sklearn_pca(const at::Tensor& data, int64_t k, const std::string& name) {
  const fs::path dir = imret::testing::reference_folder("pca", name);
  imret::testing::save(dir / "data.npy", data);
  EXPECT_EQ(imret::testing::run_reference("tests/unit/viz/pca_reference.py", dir.string() + " " + std::to_string(k)), 0)
      << name;
  return {load(dir / "projected.npy"), load(dir / "components.npy"), load(dir / "ratio.npy").flatten(),
          load(dir / "variance.npy").flatten()};
}

void expect_matches_sklearn(const at::Tensor& data, int64_t k, const std::string& name) {
  const viz::PcaResult ours = viz::pca(data, k);
  const Reference ref = sklearn_pca(data, k, name);
  ASSERT_EQ(ours.projected.sizes(), ref.projected.sizes()) << name;
  const double scale = ref.projected.abs().max().item<double>();
  EXPECT_LT((ours.projected - ref.projected).abs().max().item<double>(), 1e-4 * scale) << name;  // signs included
  EXPECT_LT((ours.components - ref.components).abs().max().item<double>(), 1e-4) << name;
  for (int64_t i = 0; i < k; ++i) {
    EXPECT_NEAR(ours.explained_variance_ratio[static_cast<size_t>(i)], ref.ratio[i].item<double>(), 1e-5) << name;
    EXPECT_NEAR(ours.explained_variance[static_cast<size_t>(i)], ref.variance[i].item<double>(),
                1e-5 * ref.variance[0].item<double>())
        << name;
  }
}

}  // namespace

TEST(Pca, MatchesScikitLearnWithItsSigns) {
  torch::manual_seed(0);
  // Anisotropic data: well-separated variances, so the axes are well defined.
  const at::Tensor scales = torch::linspace(3.0, 0.1, 20);
  const at::Tensor rotation = std::get<0>(at::linalg_qr(torch::randn({20, 20})));
  const at::Tensor data = (torch::randn({500, 20}) * scales).mm(rotation) + 5.0;
  expect_matches_sklearn(data, 2, "tall2");
  expect_matches_sklearn(data, 7, "tall7");
}

TEST(Pca, MoreDimensionsThanPointsMatchesScikitLearn) {
  torch::manual_seed(1);
  const at::Tensor data = torch::randn({30, 50}) * torch::linspace(4.0, 0.5, 50);
  expect_matches_sklearn(data, 3, "wide");
}

TEST(Pca, RatiosSumToOneWithEveryComponent) {
  torch::manual_seed(2);
  const viz::PcaResult all = viz::pca(torch::randn({100, 6}), 6);
  double sum = 0;
  for (double r : all.explained_variance_ratio) sum += r;
  EXPECT_NEAR(sum, 1.0, 1e-9);
  for (size_t i = 1; i < all.explained_variance.size(); ++i)
    EXPECT_GE(all.explained_variance[i - 1], all.explained_variance[i]);
}

TEST(Pca, BadShapesAndComponentCountsAreUsageErrors) {
  EXPECT_THROW(viz::pca(torch::randn({1, 4}), 1), UsageError);
  EXPECT_THROW(viz::pca(torch::randn({10}), 1), UsageError);
  EXPECT_THROW(viz::pca(torch::randn({10, 4}), 0), UsageError);
  EXPECT_THROW(viz::pca(torch::randn({10, 4}), 5), UsageError);
}
