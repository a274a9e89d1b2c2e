// --precision: its names and refusals, the autocast scope, and a network
// computing its backbone in bfloat16 on the CPU while everything it returns
// and trains stays float32. tests/parity/test_precision.py compares the
// bfloat16 embeddings with PyTorch's torch.autocast.
#include "imret/core/precision.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/models/autocast.hpp"
#include "imret/models/network.hpp"
#include "imret/models/pooling.hpp"

namespace models = imret::models;
using imret::Precision;

namespace {

std::string refusal(Precision precision, const c10::Device& device) {
  try {
    imret::check_precision_on(precision, device);
  } catch (const imret::UsageError& e) {
    return e.what();
  }
  return "";
}

std::shared_ptr<models::Network> small_resnet() {
  torch::manual_seed(3);
  models::NetworkSpec spec;
  spec.arch = "resnet18";
  spec.in_channels = 3;
  auto network = models::make_network(spec);
  network->eval();
  return network;
}

}  // namespace

TEST(Precision, NamesReadAndPrintBack) {
  for (const char* name : {"fp32", "tf32", "bf16", "fp16"})
    EXPECT_EQ(imret::precision_name(imret::parse_precision(name)), name);
  EXPECT_EQ(imret::parse_precision("bfloat16"), Precision::Bf16);
  EXPECT_EQ(imret::parse_precision("float16"), Precision::Fp16);
  EXPECT_TRUE(imret::is_mixed(Precision::Bf16));
  EXPECT_FALSE(imret::is_mixed(Precision::Tf32));
  try {
    imret::parse_precision("half");
    FAIL() << "half was accepted";
  } catch (const imret::UsageError& e) {
    EXPECT_STREQ(e.what(), "precision half: expected fp32, tf32, bf16 or fp16");
  }
}

TEST(Precision, TheCpuRefusesTf32AndFp16ByName) {
  EXPECT_EQ(refusal(Precision::Fp32, c10::kCPU), "");
  EXPECT_EQ(refusal(Precision::Bf16, c10::kCPU), "");
  const std::string fp16 = refusal(Precision::Fp16, c10::kCPU);
  EXPECT_NE(fp16.find("fp16"), std::string::npos) << fp16;
  EXPECT_NE(fp16.find("device cpu"), std::string::npos) << fp16;
  EXPECT_NE(fp16.find("bf16"), std::string::npos) << fp16;  // the way out
  const std::string tf32 = refusal(Precision::Tf32, c10::kCPU);
  EXPECT_NE(tf32.find("tf32"), std::string::npos) << tf32;
  EXPECT_NE(tf32.find("device cpu"), std::string::npos) << tf32;
  EXPECT_EQ(refusal(Precision::Fp16, c10::Device("cuda:0")), "");  // the device is checked by parse_device
}

TEST(PrecisionScope, Bf16AutocastsMatrixProductsAndRestores) {
  const torch::Tensor a = torch::randn({4, 8}), b = torch::randn({8, 3});
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat);
  {
    models::PrecisionScope outer(Precision::Bf16, c10::DeviceType::CPU);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
    {
      models::PrecisionScope inner(Precision::Fp32, c10::DeviceType::CPU);  // fp32 turns a caller's autocast off
      EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat);
    }
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16) << "the fp32 scope's end restores the caller's";
    { models::PrecisionScope inner(Precision::Bf16, c10::DeviceType::CPU); }
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16) << "an inner scope's end must not end the outer one";
  }
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat);
}

TEST(PrecisionScope, PoolingStaysFloat32UnderAutocast) {
  const torch::Tensor map = torch::rand({2, 16, 5, 5}) + 0.1;
  for (const char* spec : {"gap", "gem:p=3", "rmac"}) {
    models::Pooling pooling(models::parse_pool(spec));
    torch::Tensor reduced;
    {
      models::PrecisionScope scope(Precision::Bf16, c10::DeviceType::CPU);
      reduced = pooling->forward(map.to(torch::kBFloat16));
    }
    EXPECT_EQ(reduced.scalar_type(), torch::kFloat) << spec;
    // The map's own rounding to bfloat16 is all that differs.
    const torch::Tensor expected = pooling->forward(map.to(torch::kBFloat16).to(torch::kFloat));
    EXPECT_TRUE(torch::allclose(reduced, expected, 1e-6, 1e-6)) << spec;
  }
}

TEST(PrecisionScope, Bf16NetworkEmbedsInFloat32CloseToFp32) {
  auto network = small_resnet();
  const torch::Tensor images = torch::rand({3, 3, 64, 64});
  torch::NoGradGuard no_grad;
  const torch::Tensor full = network->embed(images);
  network->set_precision(Precision::Bf16);
  const torch::Tensor half = network->embed(images);
  EXPECT_EQ(half.scalar_type(), torch::kFloat);
  const double relative = ((half - full).norm() / full.norm()).item<double>();
  EXPECT_GT(relative, 1e-5) << "bfloat16 should change the result (8 bits of mantissa)";
  EXPECT_LT(relative, 5e-2);
  const torch::Tensor cosine = torch::cosine_similarity(half, full, 1);
  EXPECT_GT(cosine.min().item<double>(), 0.999);
  network->set_precision(Precision::Fp32);
  EXPECT_TRUE(torch::equal(network->embed(images), full)) << "fp32 again gives the fp32 result";
}

TEST(PrecisionScope, Bf16TrainingKeepsFloat32WeightsAndGradients) {
  auto network = small_resnet();
  network->train();
  network->set_precision(Precision::Bf16);
  const torch::Tensor scores = network->forward(torch::rand({4, 3, 32, 32}));
  EXPECT_EQ(scores.scalar_type(), torch::kFloat);
  torch::nn::functional::cross_entropy(scores, torch::tensor({0, 1, 2, 3})).backward();
  int64_t with_grad = 0;
  for (const auto& p : network->parameters()) {
    EXPECT_EQ(p.scalar_type(), torch::kFloat);
    if (!p.grad().defined()) continue;
    ++with_grad;
    EXPECT_EQ(p.grad().scalar_type(), torch::kFloat);
    EXPECT_TRUE(p.grad().isfinite().all().item<bool>());
  }
  EXPECT_GT(with_grad, 10);
  EXPECT_EQ(torch::mm(torch::ones({2, 2}), torch::ones({2, 2})).scalar_type(), torch::kFloat)
      << "autocast left on after the network";
}

// Out of training with gradients off, batch norm is folded into the
// convolutions (folded_batch_norm.hpp): the same features to rounding as the
// two apart, and a changed weight or statistic is seen at once.
TEST(FoldedBatchNorm, EqualsConvolutionThenBatchNormAndFollowsChanges) {
  auto network = small_resnet();
  {
    torch::NoGradGuard no_grad;  // statistics other than 0 and 1, so that folding does something
    for (auto& buffer : network->named_buffers()) {
      if (buffer.key().find("running_mean") != std::string::npos) buffer.value().uniform_(-0.5, 0.5);
      if (buffer.key().find("running_var") != std::string::npos) buffer.value().uniform_(0.5, 2.0);
    }
  }
  const torch::Tensor images = torch::rand({2, 3, 64, 64});
  auto apart = [&] { return network->embed(images).detach(); };  // gradients on: no folding
  auto folded = [&] {
    torch::NoGradGuard no_grad;
    return network->embed(images);
  };
  auto relative = [](const torch::Tensor& a, const torch::Tensor& b) {
    return ((a - b).abs().max() / b.abs().max()).item<double>();
  };
  const torch::Tensor reference = apart();
  EXPECT_LT(relative(folded(), reference), 1e-5);
  EXPECT_FALSE(torch::equal(folded(), reference)) << "folding should round differently (is it folding at all?)";
  // Change one batch norm's statistics and another's weight: the cache follows.
  {
    torch::NoGradGuard no_grad;
    auto buffers = network->named_buffers();
    buffers["layer1.0.bn1.running_var"].mul_(3);
    network->named_parameters()["layer2.0.bn2.weight"].mul_(-1);
  }
  const torch::Tensor changed = apart();
  EXPECT_GT(relative(changed, reference), 1e-3);
  EXPECT_LT(relative(folded(), changed), 1e-5);
  {
    c10::InferenceMode inference;  // the way embed_dataset and the service call it
    EXPECT_LT(relative(network->embed(images), changed), 1e-5);
  }
  // A training step moves the running statistics in place (no version bump on
  // them): the folded weights must follow that too.
  network->train();
  {
    torch::NoGradGuard no_grad;
    network->embed(torch::rand({4, 3, 64, 64}) * 3);
  }
  network->eval();
  const torch::Tensor trained = apart();
  EXPECT_GT(relative(trained, changed), 1e-3);
  EXPECT_LT(relative(folded(), trained), 1e-5);
}
