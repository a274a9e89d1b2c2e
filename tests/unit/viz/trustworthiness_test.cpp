#include "imret/viz/trustworthiness.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "imret/core/error.hpp"
#include "imret/core/npy.hpp"
#include "support/reference_files.hpp"

namespace fs = std::filesystem;
using namespace imret;
using namespace imret::viz;

namespace {

using imret::testing::save;

fs::path folder(const std::string& name) { return imret::testing::reference_folder("viz_trust", name); }

int reference(const std::string& command, const fs::path& dir, const std::string& args) {
  return imret::testing::run_reference("tests/unit/viz/tsne_reference.py", command + " " + dir.string() + " " + args);
}

// sklearn.manifold.trustworthiness of x.npy / y.npy for each k (the helper
// writes them as text: float32 would lose the digits compared).
std::vector<double> sklearn_trustworthiness(const fs::path& dir, const at::Tensor& x, const at::Tensor& y,
                                            const std::vector<int64_t>& ks) {
  save(dir / "x.npy", x);
  save(dir / "y.npy", y);
  std::string args;
  for (const int64_t k : ks) args += std::to_string(k) + " ";
  EXPECT_EQ(reference("trust", dir, args), 0);
  std::ifstream in(dir / "trust.txt");
  std::vector<double> values(ks.size(), -1.0);
  for (double& v : values) in >> v;
  return values;
}

// Rounded to float32, as the reference reads them.
at::Tensor as_float32(const at::Tensor& t) { return t.to(torch::kFloat32); }

}  // namespace

TEST(Trustworthiness, EqualsSklearnOnRandomData) {
  torch::manual_seed(21);
  const at::Tensor x = as_float32(torch::randn({200, 8}));
  // A noisy, partly faithful embedding: its first two coordinates plus noise.
  const at::Tensor y = as_float32(x.slice(1, 0, 2) + 0.7 * torch::randn({200, 2}));
  const std::vector<int64_t> ks{1, 5, 10, 30, 99};
  const std::vector<double> expected = sklearn_trustworthiness(folder("random"), x, y, ks);
  for (size_t c = 0; c < ks.size(); ++c) {
    const double ours = trustworthiness(x, y, ks[c]);
    EXPECT_NEAR(ours, expected[c], 1e-9) << "k = " << ks[c];
    EXPECT_GT(ours, 0.5);
    EXPECT_LT(ours, 0.99);  // far from perfect: the ranks matter
  }
}

TEST(Trustworthiness, DuplicatesAreNeverTheirOwnNeighbour) {
  // Every point twice, in both spaces: a point's twin sits at distance 0 and
  // ranks first; the point itself is left out by index. With odd k each
  // point's embedded neighbours are its twin plus whole twin pairs, so the
  // value does not depend on how equal distances are ordered (the reference
  // checks that by permuting the rows).
  torch::manual_seed(22);
  const at::Tensor x_half = as_float32(torch::randn({80, 6}));
  const at::Tensor y_half = as_float32(x_half.slice(1, 0, 2) + 0.5 * torch::randn({80, 2}));
  const at::Tensor x = x_half.repeat_interleave(2, 0), y = y_half.repeat_interleave(2, 0);
  const std::vector<int64_t> ks{1, 3, 7, 21};
  const std::vector<double> expected = sklearn_trustworthiness(folder("duplicates"), x, y, ks);
  for (size_t c = 0; c < ks.size(); ++c) EXPECT_NEAR(trustworthiness(x, y, ks[c]), expected[c], 1e-9) << ks[c];
}

TEST(Trustworthiness, AFaithfulEmbeddingScoresOne) {
  torch::manual_seed(23);
  const at::Tensor x = torch::randn({60, 3});
  EXPECT_DOUBLE_EQ(trustworthiness(x, x * 2 + 1, 5), 1.0);
}

TEST(Trustworthiness, KMustBeBelowHalfTheSamples) {
  const at::Tensor x = torch::randn({20, 3});
  EXPECT_THROW(trustworthiness(x, x, 10), UsageError);
  EXPECT_THROW(trustworthiness(x, x, 0), UsageError);
  EXPECT_THROW(trustworthiness(x, x.slice(0, 0, 19), 3), UsageError);
  EXPECT_NO_THROW(trustworthiness(x, x, 9));
}

TEST(KnnAccuracy, EqualsSklearnKNeighborsVote) {
  torch::manual_seed(24);
  const at::Tensor labels = torch::randint(0, 4, {300});
  // Overlapping classes, so that the vote is often close.
  const at::Tensor y = as_float32(labels.unsqueeze(1).to(torch::kFloat32) * 0.8 + torch::randn({300, 2}));
  const fs::path dir = folder("knn");
  save(dir / "y.npy", y);
  save(dir / "labels.npy", labels.unsqueeze(1));
  std::vector<int64_t> label_list(labels.data_ptr<int64_t>(), labels.data_ptr<int64_t>() + labels.numel());
  for (const int k : {1, 4, 10}) {
    ASSERT_EQ(reference("knn", dir, std::to_string(k)), 0);
    const double expected = imret::load_npy(dir / "accuracy.npy").values.at(0);
    const double ours = knn_accuracy(y, label_list, k);
    EXPECT_NEAR(ours, expected, 1e-6) << "k = " << k;
    EXPECT_GT(ours, 0.3);
    EXPECT_LT(ours, 0.95);
  }
}

TEST(KnnAccuracy, TiedVotesGoToTheSmallestLabel) {
  // On a line: p0 = 0 (label 1), p1 = 1 (label 1), p2 = -1.5 (label 0), p3 = 10 (label 0).
  // k = 2: p0 sees p1, p2 (1 vs 0: tie -> 0, wrong); p1 sees p0, p2 (tie -> 0, wrong);
  // p2 sees p0, p1 (1, wrong); p3 sees p1, p0 (1, wrong). A nearest-first tie rule would get p0 and p1 right.
  const at::Tensor points = torch::tensor({0.0f, 1.0f, -1.5f, 10.0f}).unsqueeze(1);
  const std::vector<int64_t> labels{1, 1, 0, 0};
  EXPECT_DOUBLE_EQ(knn_accuracy(points, labels, 2), 0.0);
  EXPECT_DOUBLE_EQ(knn_accuracy(points, labels, 1), 0.5);  // p0 and p1 are each other's nearest
  EXPECT_THROW(knn_accuracy(points, labels, 4), UsageError);
  EXPECT_THROW(knn_accuracy(points, {1, 1, 0}, 1), UsageError);
}
