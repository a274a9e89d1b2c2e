// Pooling, multi-scale and whitening: their properties and hand-counted R-MAC
// grids. tests/parity/test_backbones.py compares them with Python references.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "imret/core/error.hpp"
#include "imret/core/safetensors.hpp"
#include "imret/models/network.hpp"
#include "imret/models/pooling.hpp"
#include "imret/models/whitening.hpp"
#include "support/scratch.hpp"

namespace models = imret::models;

namespace {

torch::Tensor pool(const std::string& spec, const torch::Tensor& x) {
  models::Pooling pooling(models::parse_pool(spec));
  return pooling->forward(x);
}

int64_t count_at(const std::vector<models::PoolRegion>& regions, int64_t size) {
  return std::count_if(regions.begin(), regions.end(), [&](const models::PoolRegion& r) { return r.size == size; });
}

}  // namespace

TEST(Pooling, SpecsReadAndPrintBack) {
  EXPECT_EQ(models::parse_pool("gem").to_string(), "gem:p=3");
  EXPECT_EQ(models::parse_pool("gem:p=2.5").to_string(), "gem:p=2.5");
  EXPECT_EQ(models::parse_pool("rmac").to_string(), "rmac:levels=3");
  EXPECT_EQ(models::parse_pool("mac").to_string(), "mac");
  EXPECT_THROW(models::parse_pool("max"), imret::UsageError);
  EXPECT_THROW(models::parse_pool("gem:q=3"), imret::UsageError);
  EXPECT_THROW(models::parse_pool("gem:p=x"), imret::UsageError);
  EXPECT_THROW(models::parse_pool("rmac:levels=1.5"), imret::UsageError);
  EXPECT_THROW(models::parse_pool("mac:p=3"), imret::UsageError);
}

TEST(Pooling, GemSpansMeanToMax) {
  torch::manual_seed(0);
  const torch::Tensor x = torch::rand({3, 5, 4, 6}) + 0.1;
  EXPECT_TRUE(torch::allclose(pool("gem:p=1", x), x.mean({2, 3}), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(pool("gap", x), x.mean({2, 3}), 1e-5, 1e-6));
  const torch::Tensor max = std::get<0>(x.flatten(2).max(2));
  EXPECT_TRUE(torch::equal(pool("mac", x), max));
  // Large p tends to the maximum: within (1/24)^(1/p) of it.
  const torch::Tensor high = pool("gem:p=100", x);
  EXPECT_TRUE((high <= max + 1e-5).all().item<bool>());
  EXPECT_TRUE((high >= max * std::pow(1.0 / 24, 1.0 / 100) - 1e-5).all().item<bool>());
  // Negative activations are clamped, not raised to a fractional power.
  EXPECT_FALSE(torch::isnan(pool("gem:p=2.5", x - 0.5)).any().item<bool>());
  // Large activations with a large p do not overflow float32 (x^p alone would: 50^100).
  const torch::Tensor big = pool("gem:p=100", x * 50);
  EXPECT_TRUE(torch::isfinite(big).all().item<bool>());
  EXPECT_TRUE(torch::allclose(big, pool("gem:p=100", x) * 50, 1e-4, 1e-4));
}

TEST(Pooling, GemPIsTrained) {
  models::Pooling gem(models::parse_pool("gem:p=3"));
  ASSERT_EQ(gem->named_parameters().size(), 1u);
  const torch::Tensor x = torch::rand({2, 3, 4, 4}) + 0.1;
  gem->forward(x).sum().backward();
  EXPECT_TRUE(gem->named_parameters()["p"].grad().defined());
  EXPECT_TRUE(models::Pooling(models::parse_pool("mac"))->named_parameters().is_empty());
}

TEST(Pooling, SpocWeighsTheCentre) {
  torch::Tensor centre = torch::zeros({1, 1, 7, 7}), corner = torch::zeros({1, 1, 7, 7});
  centre[0][0][3][3] = 1;
  corner[0][0][0][0] = 1;
  EXPECT_GT(pool("spoc", centre).item<float>(), 5 * pool("spoc", corner).item<float>());
  // Symmetric: a mirrored map pools alike.
  const torch::Tensor x = torch::rand({2, 3, 5, 8});
  EXPECT_TRUE(torch::allclose(pool("spoc", x), pool("spoc", x.flip(3)), 1e-5, 1e-6));
}

TEST(Pooling, RmacRegionsAsCountedByHand) {
  // 5 x 5, 3 levels: one 5x5, four 3x3 (at 0 and 2), nine 2x2 (at 0, 1, 3).
  const auto square = models::rmac_regions(5, 5, 3);
  EXPECT_EQ(square.size(), 14u);
  EXPECT_EQ(count_at(square, 5), 1);
  EXPECT_EQ(count_at(square, 3), 4);
  EXPECT_EQ(count_at(square, 2), 9);
  EXPECT_EQ(square.back().top, 3);
  EXPECT_EQ(square.back().left, 3);
  // 3 x 6: the long side gets two extra regions a level (40% overlap).
  const auto wide = models::rmac_regions(3, 6, 3);
  EXPECT_EQ(count_at(wide, 3), 3);   // 1 x 3
  EXPECT_EQ(count_at(wide, 2), 8);   // 2 x 4
  EXPECT_EQ(count_at(wide, 1), 15);  // 3 x 5
  EXPECT_EQ(wide[1].left, 1);
  EXPECT_EQ(wide[2].left, 3);
  // 10 x 18 is a tie between 1 and 2 extra regions in float32 (overlaps 0.6 and 0.2 off 0.4 by
  // 0.2 each); cirtorch's float32 argmin takes the first: 1 extra, 2 regions on level 1.
  EXPECT_EQ(models::rmac_regions(10, 18, 1).size(), 2u);
  // R-MAC sums the normalised MACs: 1 + 14 unit vectors at most.
  const torch::Tensor r = pool("rmac", torch::rand({2, 4, 5, 5}));
  EXPECT_TRUE((r.norm(2, 1) <= 15 + 1e-4).all().item<bool>());
}

TEST(Pooling, ConvnetRefusesIt) {
  models::NetworkSpec spec;
  spec.pool = "gem";
  EXPECT_THROW(models::make_network(spec), imret::UsageError);
}

TEST(MultiScale, OneScaleIsThePlainEmbeddingAndTrainingIgnoresScales) {
  torch::manual_seed(0);
  models::NetworkSpec spec;
  spec.arch = "resnet18";
  spec.in_channels = 3;
  auto network = models::make_network(spec);
  network->eval();
  const torch::Tensor x = torch::rand({2, 3, 64, 64});
  torch::NoGradGuard no_grad;
  const torch::Tensor plain = network->embed(x);
  network->set_scales({1});
  EXPECT_TRUE(torch::equal(network->embed(x), plain));
  network->set_scales({1, 0.5});
  const torch::Tensor two = network->embed(x);
  EXPECT_NEAR(two.norm(2, 1)[0].item<float>(), 1.0, 1e-5);
  EXPECT_FALSE(torch::allclose(two, torch::nn::functional::normalize(plain, torch::nn::functional::NormalizeFuncOptions().dim(1)), 1e-3, 1e-3));
  EXPECT_THROW(network->set_scales({0}), imret::UsageError);
}

namespace {

// Clustered data: 4 classes in 6 dimensions with unequal spreads.
std::pair<torch::Tensor, std::vector<int64_t>> clustered(int64_t n) {
  torch::manual_seed(1);
  const torch::Tensor centres = torch::randn({4, 6}, torch::kDouble) * 3;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back(i % 4);
  const torch::Tensor x = centres.index_select(0, torch::tensor(labels)) +
                          torch::randn({n, 6}, torch::kDouble) * torch::tensor({1.0, 2.0, 0.5, 3.0, 1.0, 0.2}, torch::kDouble);
  return {x, labels};
}

}  // namespace

TEST(Whitening, PcaMakesTheCovarianceTheIdentity) {
  auto [x, labels] = clustered(200);
  const models::Whitening w = models::learn_whitening(models::parse_whiten("pca"), x, labels);
  ASSERT_EQ(w.output_dim(), 6);
  const torch::Tensor centred = x - x.mean(0);
  const torch::Tensor covariance = centred.t().mm(centred) / 199;
  const torch::Tensor p = w.projection.to(torch::kDouble);
  EXPECT_TRUE(torch::allclose(p.mm(covariance).mm(p.t()), torch::eye(6, torch::kDouble), 1e-4, 1e-4));
  const torch::Tensor y = w.apply(x);
  EXPECT_TRUE(torch::allclose(y.norm(2, 1), torch::ones({200}), 1e-5, 1e-5));
  EXPECT_EQ(models::learn_whitening(models::parse_whiten("pca:dim=2"), x, labels).output_dim(), 2);
}

TEST(Whitening, LearnedWhitensTheMatchingPairs) {
  auto [x, labels] = clustered(200);
  const models::Whitening w = models::learn_whitening(models::parse_whiten("learned"), x, labels);
  // Pairs: each item with the next of its class (i, i + 4; the last with the first).
  std::vector<int64_t> first, second;
  for (int64_t i = 0; i < 200; ++i) {
    first.push_back(i);
    second.push_back(i + 4 < 200 ? i + 4 : i % 4);
  }
  const torch::Tensor d = x.index_select(0, torch::tensor(first)) - x.index_select(0, torch::tensor(second));
  const torch::Tensor scatter = d.t().mm(d) / 200;
  const torch::Tensor p = w.projection.to(torch::kDouble);
  EXPECT_TRUE(torch::allclose(p.mm(scatter).mm(p.t()), torch::eye(6, torch::kDouble), 1e-4, 1e-4));
  // And its rows are the principal directions of the pair-whitened data: the projected covariance is diagonal.
  const torch::Tensor y = (x - x.mean(0)).mm(p.t());
  const torch::Tensor c = y.t().mm(y);
  EXPECT_LT((c - torch::diag(c.diagonal())).abs().max().item<double>(), 1e-6 * c.abs().max().item<double>());
}

TEST(Whitening, ErrorsSayWhatIsMissing) {
  auto [x, labels] = clustered(50);
  std::vector<int64_t> none(50, -1);
  EXPECT_THROW(models::learn_whitening(models::parse_whiten("learned"), x, none), imret::UsageError);
  EXPECT_THROW(models::learn_whitening(models::parse_whiten("pca:dim=7"), x, labels), imret::UsageError);
  // 6 pairs for 6 dimensions: too few to whiten the pairs' scatter.
  EXPECT_THROW(models::learn_whitening(models::parse_whiten("learned"), x.slice(0, 0, 6), {0, 0, 1, 1, 2, 2}),
               imret::UsageError);
  EXPECT_THROW(models::learn_whitening(models::parse_whiten("pca"), x.slice(0, 0, 1), labels), imret::UsageError);
  EXPECT_THROW(models::parse_whiten("zca"), imret::UsageError);
  EXPECT_THROW(models::parse_whiten("pca:dim=-1"), imret::UsageError);
  EXPECT_THROW(models::parse_whiten("pca:seed=1"), imret::UsageError);
}

TEST(Whitening, SavedAndLoadedAlike) {
  const auto dir = [](const std::string& name) { return imret::testing::scratch_path("models", name); };
  auto [x, labels] = clustered(100);
  const models::Whitening w = models::learn_whitening(models::parse_whiten("learned:dim=4"), x, labels);
  const auto path = dir("w.safetensors");
  models::save_whitening(path, w);
  const models::Whitening back = models::load_whitening(path);
  EXPECT_EQ(back.method, "learned");
  EXPECT_EQ(back.fingerprint(), w.fingerprint());
  EXPECT_TRUE(torch::equal(back.apply(x), w.apply(x)));
  EXPECT_NE(models::learn_whitening(models::parse_whiten("pca:dim=4"), x, labels).fingerprint(), w.fingerprint());
  imret::save_safetensors(dir("other.safetensors"), {{"mean", torch::zeros({3})}});
  EXPECT_THROW(models::load_whitening(dir("other.safetensors")), imret::Error);
  EXPECT_THROW(models::load_whitening(dir("missing.safetensors")), imret::Error);
  EXPECT_THROW(w.apply(torch::zeros({2, 5})), imret::UsageError);
}
