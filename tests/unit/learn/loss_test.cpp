#include "imret/learn/loss.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "imret/core/error.hpp"
#include "imret/core/npy.hpp"

namespace fs = std::filesystem;
using namespace imret;
using namespace imret::learn;

namespace {
torch::Tensor rows(std::initializer_list<float> values, int64_t cols) {
  return torch::tensor(std::vector<float>(values)).reshape({-1, cols});
}
torch::Tensor longs(std::initializer_list<int64_t> values) { return torch::tensor(std::vector<int64_t>(values)); }
double value(const LossResult& r) { return r.loss.item<double>(); }

// Four 2-D points:  x0 = (0, 0), x1 = (0.5, 0) (class 0);  x2 = (0, 0.3), x3 = (2, 0) (class 1).
// Euclidean: d01 = 0.5, d02 = 0.3, d03 = 2, d12 = sqrt(0.34), d13 = 1.5, d23 = sqrt(4.09).
torch::Tensor paper_points() { return rows({0, 0, 0.5f, 0, 0, 0.3f, 2, 0}, 2); }
torch::Tensor paper_labels() { return longs({0, 0, 1, 1}); }
const double d12 = std::sqrt(0.34), d23 = std::sqrt(4.09);
}  // namespace

TEST(ContrastiveLoss, ByHandOnFourPoints) {
  // Ordered pairs: positives d = 0.5, 0.5, d23, d23; negatives (x2) 0.3, 2, d12, 1.5.
  const ContrastiveLoss loss(make_distance("euclidean"));  // pos_margin 0, neg_margin 1
  const LossResult r = loss(paper_points(), paper_labels());
  EXPECT_EQ(r.tuples, 12);
  EXPECT_EQ(r.nonzero, 8);  // 4 positives, negatives 0.3 and d12 twice
  const double pos = (0.5 + d23) / 2, neg = ((1 - 0.3) + (1 - d12)) / 2;
  EXPECT_NEAR(value(r), pos + neg, 1e-5);
  const ContrastiveLoss mean(make_distance("euclidean"), 0, 1, Reduction::kMean);
  EXPECT_NEAR(value(mean(paper_points(), paper_labels())), pos + 2 * ((1 - 0.3) + (1 - d12)) / 8, 1e-5);
  const ContrastiveLoss sum(make_distance("euclidean"), 0, 1, Reduction::kSum);
  EXPECT_NEAR(value(sum(paper_points(), paper_labels())), 2 * (1 + 2 * d23) / 2 + 2 * ((1 - 0.3) + (1 - d12)), 1e-5);
}

TEST(ContrastiveLoss, CosineSimilarityFlipsTheInequalities) {
  // x0 = (1, 0), x1 = (0, 1) class 0; x2 = (1, 1) class 1: s01 = 0, s02 = s12 = 1/sqrt(2).
  const ContrastiveLoss loss(make_distance("cosine"), /*pos_margin=*/1, /*neg_margin=*/0);
  const LossResult r = loss(rows({1, 0, 0, 1, 1, 1}, 2), longs({0, 0, 1}));
  EXPECT_EQ(r.tuples, 6);
  EXPECT_EQ(r.nonzero, 6);
  EXPECT_NEAR(value(r), 1 + 1 / std::sqrt(2.0), 1e-6);
}

TEST(ContrastiveLoss, GivenPairsAndTriplets) {
  const ContrastiveLoss loss(make_distance("euclidean"));
  const Pairs pairs{longs({0}), longs({1}), longs({0, 1}), longs({2, 3})};  // d 0.5; 0.3, 1.5
  const LossResult r = loss(paper_points(), paper_labels(), &pairs);
  EXPECT_EQ(r.tuples, 3);
  EXPECT_EQ(r.nonzero, 2);
  EXPECT_NEAR(value(r), 0.5 + 0.7, 1e-5);
  const Triplets triplets{longs({0}), longs({1}), longs({2})};
  const LossResult t = loss.compute(paper_points(), paper_labels(), nullptr, &triplets);
  EXPECT_EQ(t.tuples, 2);
  EXPECT_NEAR(value(t), 0.5 + 0.7, 1e-5);
}

TEST(TripletMarginLoss, ByHandOnFourPoints) {
  // All 8 triplets; hinge d_ap - d_an + 0.2:
  // (0,1,2) 0.4   (0,1,3) 0   (1,0,2) 0.7 - d12   (1,0,3) 0
  // (2,3,0) d23 - 0.1   (2,3,1) d23 - d12 + 0.2   (3,2,0) d23 - 1.8   (3,2,1) d23 - 1.3
  const double sum = 0.4 + (0.7 - d12) + (d23 - 0.1) + (d23 - d12 + 0.2) + (d23 - 1.8) + (d23 - 1.3);
  const TripletMarginLoss loss(make_distance("euclidean"), 0.2);
  const LossResult r = loss(paper_points(), paper_labels());
  EXPECT_EQ(r.tuples, 8);
  EXPECT_EQ(r.nonzero, 6);
  EXPECT_NEAR(value(r), sum / 6, 1e-5);
  const TripletMarginLoss mean(make_distance("euclidean"), 0.2, false, Reduction::kMean);
  EXPECT_NEAR(value(mean(paper_points(), paper_labels())), sum / 8, 1e-5);
  // The same triplets given explicitly go through Distance::paired(): same value.
  const Triplets all = all_triplets(paper_labels());
  EXPECT_NEAR(value(loss(paper_points(), paper_labels(), &all)), sum / 6, 1e-5);
  // Soft margin: log(1 + exp(d_ap - d_an)), all triplets count.
  const TripletMarginLoss soft(make_distance("euclidean"), 0.2, true);
  const Triplets one{longs({0}), longs({1}), longs({2})};
  const LossResult s = soft(paper_points(), paper_labels(), &one);
  EXPECT_NEAR(value(s), std::log1p(std::exp(0.5 - 0.3)), 1e-6);
  EXPECT_EQ(s.nonzero, 1);
}

TEST(TripletMarginLoss, ZeroWhenEveryNegativeIsBeyondTheMargin) {
  // Two tight clusters 10 apart: d_ap <= 0.2, d_an >= 9.8.
  auto x = rows({0, 0, 0.1f, 0, 0, 0.1f, 10, 0, 10.1f, 0, 10, 0.1f}, 2).requires_grad_(true);
  const auto labels = longs({0, 0, 0, 1, 1, 1});
  for (const char* name : {"euclidean", "squared-euclidean"}) {
    const TripletMarginLoss loss(make_distance(name), 1.0);
    const LossResult r = loss(x, labels);
    EXPECT_EQ(r.tuples, 6 * 2 * 3) << name;
    EXPECT_EQ(r.nonzero, 0) << name;
    EXPECT_EQ(value(r), 0.0) << name;
    x.mutable_grad() = torch::Tensor();
    r.loss.backward();
    ASSERT_TRUE(x.grad().defined());
    EXPECT_EQ(x.grad().abs().max().item<double>(), 0.0) << name;
  }
  // Cosine: class 0 along +x, class 1 along +y (similarity 1 within, 0 across).
  const auto directions = rows({1, 0, 2, 0, 0, 1, 0, 3}, 2);
  const LossResult c0 = TripletMarginLoss(make_distance("cosine"), 0.5)(directions, longs({0, 0, 1, 1}));
  EXPECT_EQ(c0.nonzero, 0);
  EXPECT_EQ(value(c0), 0.0);
  EXPECT_EQ(TripletMarginLoss(make_distance("cosine"), 1.5)(directions, longs({0, 0, 1, 1})).nonzero, 8);
  const ContrastiveLoss contrastive(make_distance("euclidean"), 0.5, 1.0);
  const LossResult c = contrastive(x, labels);
  EXPECT_EQ(c.nonzero, 0);
  EXPECT_EQ(value(c), 0.0);
}

TEST(TripletMarginLoss, GradientPullsThePositiveAndPushesTheNegative) {
  for (const char* name : {"euclidean", "squared-euclidean", "cosine"}) {
    auto x = rows({1, 0.2f, 0.6f, 1, 1, 0.6f}, 2).requires_grad_(true);  // anchor, positive, negative
    const Triplets t{longs({0}), longs({1}), longs({2})};
    const TripletMarginLoss loss(make_distance(name), 0.5);
    const LossResult r = loss(x, longs({0, 0, 1}), &t);
    ASSERT_EQ(r.nonzero, 1) << name;
    r.loss.backward();
    const auto step = -x.grad();  // gradient descent direction
    const auto a = x.detach()[0], p = x.detach()[1], n = x.detach()[2];
    EXPECT_GT((step[1] * (a - p)).sum().item<double>(), 0) << name << ": positive moves towards the anchor";
    EXPECT_GT((step[2] * (n - a)).sum().item<double>(), 0) << name << ": negative moves away from the anchor";
    // A small step lowers the loss.
    const auto moved = (x.detach() + 1e-3 * step).requires_grad_(false);
    EXPECT_LT(value(loss(moved, longs({0, 0, 1}), &t)), value(r)) << name;
  }
}

TEST(QuadrupletLoss, ByHand) {
  // x0 = (0, 0), x1 = (1, 0) class 0; x2 = (0, 2) class 1; x3 = (3, 0) class 2.
  // Triplet (0, 1, 2): d_ap = 1, d_an = 2; the only k for the second negative pair is 3: d23 = sqrt(13).
  const auto x = rows({0, 0, 1, 0, 0, 2, 3, 0}, 2);
  const auto labels = longs({0, 0, 1, 2});
  const Triplets t{longs({0}), longs({1}), longs({2})};
  const QuadrupletLoss loss(make_distance("euclidean"), 1.5, 3.0);
  const LossResult r = loss(x, labels, &t);
  EXPECT_EQ(r.tuples, 2);
  EXPECT_EQ(r.nonzero, 2);
  EXPECT_NEAR(value(r), (1 - 2 + 1.5) + (1 - std::sqrt(13.0) + 3), 1e-5);
  // With margin2 = 2 the quadruplet term vanishes: only the triplet hinge remains.
  const LossResult q = QuadrupletLoss(make_distance("euclidean"), 1.5, 2.0)(x, labels, &t);
  EXPECT_EQ(q.nonzero, 1);
  EXPECT_NEAR(value(q), 0.5, 1e-5);
  // All triplets: anchors 0 and 1, negatives 2 and 3 -> 4 triplets, each with one k.
  const LossResult all = loss(x, labels);
  EXPECT_EQ(all.tuples, 8);
  // Gradients by hand (both terms contain d_ap; the first also -d_an, the second -d_23):
  // x0: 2 (x0 - x1) - (x0 - x2) / 2 = (-2, 1);  x1: 2 (x1 - x0) = (2, 0): descent pulls x1 towards x0.
  auto y = x.clone().requires_grad_(true);
  loss(y, labels, &t).loss.backward();
  EXPECT_LE((y.grad().slice(0, 0, 2) - rows({-2, 1, 2, 0}, 2)).abs().max().item<double>(), 1e-5) << y.grad();
  // Cosine similarity: inequalities flip. s_ap = 1, s_an = 0, s_23 = -1 for these directions:
  // relu(0 - 1 + 1.5) + relu(-1 - 1 + 0.5) = 0.5.
  const auto d = rows({1, 0, 2, 0, 0, 1, 0, -1}, 2);
  const LossResult c = QuadrupletLoss(make_distance("cosine"), 1.5, 0.5)(d, labels, &t);
  EXPECT_NEAR(value(c), 0.5, 1e-6);
  EXPECT_EQ(c.nonzero, 1);
}

TEST(MultiSimilarityLoss, ByHand) {
  // x0 = x1 = (1, 0) class 0, x2 = (0, 1) class 1: s01 = 1, s02 = s12 = 0.
  const MultiSimilarityLoss loss;  // alpha 2, beta 50, base 0.5
  const LossResult r = loss(rows({1, 0, 1, 0, 0, 1}, 2), longs({0, 0, 1}));
  const double anchor01 = 0.5 * std::log1p(std::exp(-1.0)) + std::log1p(std::exp(-25.0)) / 50;
  const double anchor2 = std::log1p(2 * std::exp(-25.0)) / 50;
  EXPECT_NEAR(value(r), (2 * anchor01 + anchor2) / 3, 1e-7);
  EXPECT_EQ(r.tuples, 6);
  EXPECT_EQ(r.nonzero, 0);
  // Only the pairs given: the negative (0, 2) alone.
  const Pairs pairs{longs({}), longs({}), longs({0}), longs({2})};
  const LossResult p = loss(rows({1, 0, 1, 0, 0, 1}, 2), longs({0, 0, 1}), &pairs);
  EXPECT_EQ(p.tuples, 1);
  EXPECT_NEAR(value(p), std::log1p(std::exp(-25.0)) / 50 / 3, 1e-9);
}

TEST(Tuples, AllPairsAllTripletsAndConversions) {
  const Pairs p = all_pairs(paper_labels());
  EXPECT_EQ(p.a1.numel(), 4);
  EXPECT_EQ(p.a2.numel(), 8);
  EXPECT_TRUE((paper_labels().index_select(0, p.a1) == paper_labels().index_select(0, p.p)).all().item<bool>());
  EXPECT_TRUE((paper_labels().index_select(0, p.a2) != paper_labels().index_select(0, p.n)).all().item<bool>());
  EXPECT_FALSE((p.a1 == p.p).any().item<bool>());
  const Triplets t = all_triplets(paper_labels());
  EXPECT_EQ(t.anchor.numel(), 8);
  const Triplets back = pairs_to_triplets(p);  // every positive pair x every negative of its anchor
  EXPECT_EQ(back.anchor.numel(), 8);
  const Pairs from = triplets_to_pairs(t);
  EXPECT_TRUE(from.a1.equal(t.anchor) && from.n.equal(t.negative));
}

TEST(Loss, RejectsBadInput) {
  const TripletMarginLoss loss(make_distance("euclidean"));
  EXPECT_THROW(loss(paper_points(), longs({0, 1})), Error);
  EXPECT_THROW(loss(paper_points(), torch::zeros({4})), Error);
  EXPECT_THROW(ProxyAnchorLoss(0, 4), UsageError);
  ProxyAnchorLoss proxy(2, 2);
  EXPECT_THROW(proxy(paper_points(), longs({0, 1, 2, 1})), Error);
}

TEST(ProxyAnchorLoss, ProxiesAreAParameterAndLearn) {
  torch::manual_seed(1);
  auto proxy = std::make_shared<ProxyAnchorLoss>(3, 4);
  ASSERT_EQ(proxy->named_parameters().size(), 1u);
  EXPECT_TRUE(proxy->named_parameters().contains("proxies"));
  const auto x = torch::randn({12, 4});
  const auto labels = torch::arange(12) % 3;
  torch::optim::SGD sgd(proxy->parameters(), 0.1);
  const double before = value((*proxy)(x, labels));
  for (int i = 0; i < 20; ++i) {
    sgd.zero_grad();
    (*proxy)(x, labels).loss.backward();
    sgd.step();
  }
  EXPECT_LT(value((*proxy)(x, labels)), before);
}

// ------------------------------------------------ parity with Debian's PyTorch

namespace {
void save(const fs::path& path, const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat32).contiguous().reshape({t.size(0), -1});
  save_npy(path, c.data_ptr<float>(), c.size(0), c.size(1));
}
torch::Tensor load(const fs::path& path) {
  FloatMatrix m = load_npy(path);
  return torch::tensor(m.values).reshape({m.rows, m.cols});
}
}  // namespace

class LossParity : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::system("/usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1") != 0) {
      FAIL() << "/usr/bin/python3 with torch and numpy is needed (scripts/setup.sh --tests installs them)";
    }
    dir_ = fs::temp_directory_path() / ("imret_loss_parity_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    torch::manual_seed(11);
    embeddings_ = torch::randn({12, 4}) * 0.5;
    labels_ = torch::arange(12) % 3;
    const Triplets all = all_triplets(labels_);
    const auto pick = torch::randperm(all.anchor.numel()).slice(0, 0, 25);
    triplets_ = {all.anchor.index_select(0, pick), all.positive.index_select(0, pick),
                 all.negative.index_select(0, pick)};
    proxy_ = std::make_shared<ProxyAnchorLoss>(4, 4);  // one class absent from the batch
    save(dir_ / "embeddings.npy", embeddings_);
    save(dir_ / "labels.npy", labels_.unsqueeze(1));
    save(dir_ / "triplets.npy", torch::stack({triplets_.anchor, triplets_.positive, triplets_.negative}, 1));
    save(dir_ / "proxies.npy", proxy_->proxies().detach());
    const std::string command =
        "/usr/bin/python3 " + std::string(IMRET_SOURCE_DIR) + "/tests/unit/learn/loss_reference.py " + dir_.string();
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Value and gradient w.r.t. the embeddings against <name>_value.npy / <name>_grad.npy.
  template <typename F>
  void expect_parity(const std::string& name, F&& loss) {
    auto x = embeddings_.clone().requires_grad_(true);
    const LossResult r = loss(x);
    r.loss.backward();
    const double expected = load(dir_ / (name + "_value.npy")).item<double>();
    EXPECT_NEAR(value(r), expected, 1e-5 * std::max(1.0, std::abs(expected))) << name;
    const auto grad = load(dir_ / (name + "_grad.npy"));
    EXPECT_LE((x.grad() - grad).abs().max().item<double>(), 1e-5) << name << "\n" << x.grad() << "\n" << grad;
    EXPECT_GT(grad.abs().max().item<double>(), 1e-3) << name << ": the reference gradient is not trivial";
  }
  fs::path dir_;
  torch::Tensor embeddings_, labels_;
  Triplets triplets_;
  std::shared_ptr<ProxyAnchorLoss> proxy_;
};

TEST_F(LossParity, TripletMarginLossMatchesTorch) {
  const TripletMarginLoss loss(std::make_shared<EuclideanDistance>(1e-6), 0.2, false, Reduction::kMean);
  expect_parity("triplet", [&](const torch::Tensor& x) { return loss(x, labels_, &triplets_); });
}

TEST_F(LossParity, ContrastiveLossMatchesPlainTorch) {
  const ContrastiveLoss loss(make_distance("euclidean"), 0.25, 1.0);
  expect_parity("contrastive", [&](const torch::Tensor& x) {
    const LossResult r = loss(x, labels_);
    EXPECT_GT(r.nonzero, 0);
    EXPECT_LT(r.nonzero, r.tuples);  // the reduction's choice matters on this batch
    return r;
  });
}

TEST_F(LossParity, QuadrupletLossMatchesTheFormula) {
  const QuadrupletLoss loss(make_distance("euclidean"), 0.3, 0.2);
  expect_parity("quadruplet", [&](const torch::Tensor& x) {
    const LossResult r = loss(x, labels_, &triplets_);
    EXPECT_GT(r.nonzero, 0);
    EXPECT_LT(r.nonzero, r.tuples);
    return r;
  });
}

TEST_F(LossParity, MultiSimilarityLossMatchesTheFormula) {
  const MultiSimilarityLoss loss(2, 50, 0.5);
  expect_parity("multisim", [&](const torch::Tensor& x) { return loss(x, labels_); });
}

TEST_F(LossParity, ProxyAnchorLossMatchesTheFormula) {
  expect_parity("proxyanchor", [&](const torch::Tensor& x) { return (*proxy_)(x, labels_); });
  const auto expected = load(dir_ / "proxyanchor_proxies_grad.npy");
  ASSERT_TRUE(proxy_->proxies().grad().defined());
  EXPECT_LE((proxy_->proxies().grad() - expected).abs().max().item<double>(), 1e-5);
}
