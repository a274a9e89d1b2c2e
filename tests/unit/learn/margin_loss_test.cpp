// The margin loss (margin_loss.hpp) by hand, against a plain-PyTorch
// reference (margin_loss_reference.py), and as the method "margin".
#include "imret/learn/margin_loss.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "imret/core/error.hpp"
#include "imret/learn/objective.hpp"
#include "imret/learn/registry.hpp"
#include "support/reference_files.hpp"

using namespace imret;
using namespace imret::learn;

namespace {
torch::Tensor longs(std::initializer_list<int64_t> values) { return torch::tensor(std::vector<int64_t>(values)); }
}  // namespace

TEST(MarginLoss, ByHandOnThreePoints) {
  // x0 = (0, 0), x1 = (0.5, 0) class 0; x2 = (0, 0.3) class 1. Triplets (0, 1, 2), (1, 0, 2):
  // d_ap = 0.5 both; d_an = 0.3 and sqrt(0.34). margin 0.2, beta 0.6:
  // positive terms relu(0.5 - 0.6 + 0.2) = 0.1 (twice); negative relu(0.6 - d_an + 0.2).
  const torch::Tensor x = torch::tensor(std::vector<float>{0, 0, 0.5f, 0, 0, 0.3f}).reshape({3, 2});
  const MarginLoss loss(make_distance("euclidean"), 0.2, 0.6);
  const LossResult r = loss(x, longs({0, 0, 1}));
  EXPECT_EQ(r.tuples, 2);
  EXPECT_EQ(r.nonzero, 2);
  const double sum = 0.1 + 0.5 + 0.1 + (0.8 - std::sqrt(0.34));
  EXPECT_NEAR(r.loss.item<double>(), sum / 4, 1e-6);  // four non-zero terms
  // Positives within beta - margin, negatives beyond beta + margin: no term is non-zero.
  const torch::Tensor apart = torch::tensor(std::vector<float>{0, 0, 0.5f, 0, 0, 2}).reshape({3, 2});
  const LossResult none = MarginLoss(make_distance("euclidean"), 0.2, 1.2)(apart, longs({0, 0, 1}));
  EXPECT_EQ(none.tuples, 2);
  EXPECT_EQ(none.nonzero, 0);
  EXPECT_EQ(none.loss.item<double>(), 0.0);
  EXPECT_THROW(MarginLoss(nullptr), UsageError);
  EXPECT_THROW(MarginLoss(make_distance("euclidean"), 0.2, 1.2, true, -1), UsageError);
}

TEST(MarginLoss, NoTripletsGiveZeroWithAGraph) {
  const torch::Tensor x = torch::randn({4, 3}).requires_grad_(true);
  const MarginLoss loss(make_distance("euclidean"), 0.2, 1.2, /*learn_beta=*/true, 0.1);
  const LossResult r = loss(x, longs({0, 1, 2, 3}));  // no positives: no triplet
  EXPECT_EQ(r.tuples, 0);
  EXPECT_EQ(r.loss.item<double>(), 0.0);
  r.loss.backward();
  EXPECT_EQ(x.grad().abs().sum().item<double>(), 0.0);
}

class MarginLossParity : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1"), 0)
        << "/usr/bin/python3 with torch and numpy is needed (scripts/setup.sh --tests installs them)";
    dir_ = imret::testing::reference_folder("margin_loss", "parity");
    torch::manual_seed(5);
    embeddings_ = torch::nn::functional::normalize(torch::randn({10, 4}),
                                                   torch::nn::functional::NormalizeFuncOptions().dim(1));
    labels_ = torch::arange(10) % 3;
    const Triplets all = all_triplets(labels_);
    const auto pick = torch::randperm(all.anchor.numel()).slice(0, 0, 20);
    triplets_ = {all.anchor.index_select(0, pick), all.positive.index_select(0, pick),
                 all.negative.index_select(0, pick)};
    imret::testing::save(dir_ / "embeddings.npy", embeddings_);
    imret::testing::save(dir_ / "labels.npy", labels_.unsqueeze(1));
    imret::testing::save(dir_ / "triplets.npy", torch::stack({triplets_.anchor, triplets_.positive, triplets_.negative}, 1));
    ASSERT_EQ(imret::testing::run_reference("tests/unit/learn/margin_loss_reference.py", dir_.string()), 0);
  }
  // Value and gradient w.r.t. the embeddings against <name>_value.npy / <name>_grad.npy.
  void expect_parity(const std::string& name, const MarginLoss& loss, const Triplets* triplets = nullptr) {
    auto x = embeddings_.clone().requires_grad_(true);
    const LossResult r = loss(x, labels_, triplets);
    EXPECT_GT(r.nonzero, 0) << name;
    // Some terms are 0 on this batch: dividing by the non-zero ones is not dividing by all.
    EXPECT_LT(imret::testing::load(dir_ / (name + "_divisor.npy")).item<double>(), 2.0 * static_cast<double>(r.tuples)) << name;
    r.loss.backward();
    const double expected = imret::testing::load(dir_ / (name + "_value.npy")).item<double>();
    EXPECT_NEAR(r.loss.item<double>(), expected, 1e-5 * std::max(1.0, std::abs(expected))) << name;
    const auto grad = imret::testing::load(dir_ / (name + "_grad.npy"));
    EXPECT_LE((x.grad() - grad).abs().max().item<double>(), 1e-5) << name << "\n" << x.grad() << "\n" << grad;
    EXPECT_GT(grad.abs().max().item<double>(), 1e-3) << name << ": the reference gradient is not trivial";
  }
  std::filesystem::path dir_;
  torch::Tensor embeddings_, labels_;
  Triplets triplets_;
};

TEST_F(MarginLossParity, EveryTripletOfTheBatch) {
  expect_parity("all", MarginLoss(make_distance("euclidean"), 0.2, 1.2));
}

TEST_F(MarginLossParity, GivenTriplets) {
  expect_parity("given", MarginLoss(make_distance("euclidean"), 0.3, 0.8), &triplets_);
}

TEST_F(MarginLossParity, CosineSimilarityFlipsTheInequalities) {
  expect_parity("cosine", MarginLoss(make_distance("cosine"), 0.1, 0.3));
}

TEST_F(MarginLossParity, LearnedBetaGetsItsGradient) {
  const MarginLoss loss(make_distance("euclidean"), 0.2, 1.2, /*learn_beta=*/true, 0.05);
  ASSERT_EQ(loss.parameters().size(), 1u);  // trained with the network (Objective::parameters)
  expect_parity("learned", loss);
  const double expected = imret::testing::load(dir_ / "learned_beta_grad.npy").item<double>();
  ASSERT_TRUE(loss.beta().grad().defined());
  EXPECT_NEAR(loss.beta().grad().item<double>(), expected, 1e-5);
  EXPECT_TRUE(MarginLoss(make_distance("euclidean")).parameters().empty());  // a fixed beta is no parameter
}

TEST(MarginMethod, IsRegisteredWithDistanceWeightedSampling) {
  const MethodDescriptor& method = find_method("margin");
  EXPECT_EQ(method.tuples, TupleShape::Triplets);
  TrainConfig config;
  config.method = "margin";
  config.margin = 0.1;
  EXPECT_NO_THROW(config.validate());
  EXPECT_EQ(effective_miner(config), "distance-weighted");
  EXPECT_EQ(table_margin(config), "0.1");
  EXPECT_EQ(table_distance(config), "euclidean");
  EXPECT_NE(methods_help().find("margin: "), std::string::npos);
  torch::manual_seed(2);
  auto objective = make_objective(config, 3, 8);
  const torch::Tensor embeddings = torch::randn({12, 8}).requires_grad_(true);
  const StepLoss step = objective->loss_on_embeddings(embeddings, torch::arange(12) % 3);
  EXPECT_GT(step.tuples, 0);  // the miner drew triplets
  EXPECT_LE(step.tuples, 12 * 3);
  step.loss.backward();
  EXPECT_GT(embeddings.grad().abs().sum().item<double>(), 0.0);
}
