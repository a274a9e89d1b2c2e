// The networks give on CUDA what they give on the CPU, with the same weights,
// in the layout imret runs them (channels-last included). Run where LibTorch
// sees a GPU (scripts/gpu/check.sh); skipped, with the reason, elsewhere.
#include <gtest/gtest.h>
#include <ATen/Context.h>
#include <torch/torch.h>

#include "imret/data/idx.hpp"
#include "imret/data/dataset.hpp"
#include "imret/models/channels_last.hpp"
#include "imret/models/embed.hpp"
#include "imret/models/network.hpp"

using namespace imret;

namespace {

// cuDNN runs float32 convolutions in TF32 by default (as PyTorch does), which
// differs from the CPU by about 1e-3: the comparison turns it off.
void expect_same_outputs(const models::NetworkSpec& spec, const std::vector<int64_t>& input_shape) {
  at::globalContext().setAllowTF32CuDNN(false);
  torch::manual_seed(0);
  auto cpu = models::make_network(spec);
  auto gpu = models::make_network(spec);
  {
    torch::NoGradGuard no_grad;
    const auto parameters = cpu->named_parameters(true);
    for (auto& item : gpu->named_parameters(true)) item.value().copy_(parameters[item.key()]);
    const auto buffers = cpu->named_buffers(true);
    for (auto& item : gpu->named_buffers(true)) item.value().copy_(buffers[item.key()]);
  }
  gpu->to(torch::kCUDA);
  for (bool layout : {false, true}) {
    if (layout) {
      models::use_channels_last(*cpu);
      models::use_channels_last(*gpu);
    }
    for (bool training : {false, true}) {  // batch norm: running statistics, then batch statistics
      cpu->train(training);
      gpu->train(training);
      torch::NoGradGuard no_grad;
      const at::Tensor images = torch::randn(input_shape);
      const at::Tensor x = layout ? models::channels_last(images) : images;
      const at::Tensor a = cpu->forward(x);
      const at::Tensor b = gpu->forward(x.to(torch::kCUDA)).cpu();
      const double scale = a.abs().max().item<double>();
      EXPECT_LT((a - b).abs().max().item<double>(), 1e-4 * std::max(1.0, scale))
          << spec.arch << (layout ? " channels-last" : "") << (training ? " training" : " eval");
    }
  }
}

}  // namespace

TEST(CudaNetwork, ConvNetGivesTheCpuOutputs) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  expect_same_outputs({"convnet", 1, 10, 64}, {32, 1, 28, 28});
}

TEST(CudaNetwork, ResNetsGiveTheCpuOutputs) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  expect_same_outputs({"resnet18", 3, 8, 0}, {4, 3, 96, 96});
  expect_same_outputs({"resnet50", 3, 8, 0}, {2, 3, 64, 64});
}

// --precision on the GPU: each mode embeds in float32, close to fp32 (TF32,
// bf16 and fp16 change the arithmetic, so not equal); fp32 itself equals the
// CPU with TF32 off.
TEST(CudaPrecision, EveryModeEmbedsCloseToFp32) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  torch::manual_seed(0);
  models::NetworkSpec spec;
  spec.arch = "resnet50";
  spec.in_channels = 3;
  auto network = models::make_network(spec);
  network->eval();
  const at::Tensor images = torch::rand({8, 3, 96, 96});
  torch::NoGradGuard no_grad;
  const at::Tensor cpu = network->embed(images);
  network->to(torch::kCUDA);
  models::use_channels_last(*network);
  const at::Tensor input = models::channels_last(images.to(torch::kCUDA));
  for (const Precision precision : {Precision::Fp32, Precision::Tf32, Precision::Bf16, Precision::Fp16}) {
    network->set_precision(precision);
    const at::Tensor gpu = network->embed(input);
    ASSERT_EQ(gpu.scalar_type(), torch::kFloat) << precision_name(precision);
    const double relative = ((gpu.cpu() - cpu).norm() / cpu.norm()).item<double>();
    EXPECT_LT(relative, precision == Precision::Fp32 ? 1e-5 : 3e-2) << precision_name(precision);
    EXPECT_GT(torch::cosine_similarity(gpu.cpu(), cpu, 1).min().item<double>(), 0.999) << precision_name(precision);
  }
}

// models::embed_dataset on CUDA (pinned batches, the copy stream, blocks of
// results) gives what the CPU gives, in order, with a last partial batch.
TEST(CudaPrecision, EmbedDatasetPipelineEqualsTheCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  at::globalContext().setAllowTF32CuDNN(false);
  torch::manual_seed(0);
  auto network = models::make_network({"convnet", 1, 10, 64});
  auto full = data::load_mnist_folder(data::kDefaultFashionMnist, "test");
  auto dataset = data::subset(full, data::stratified_split(*full, 0.97, 7).first);  // 300 images
  models::EmbedOptions options;
  options.batch_size = 64;
  const auto cpu = models::embed_dataset(*network, dataset, nullptr, options);
  options.device = torch::kCUDA;
  const auto gpu = models::embed_dataset(*network, dataset, nullptr, options);
  ASSERT_EQ(gpu.indices, cpu.indices);
  ASSERT_TRUE(gpu.values.device().is_cpu());
  EXPECT_LT((gpu.values - cpu.values).abs().max().item<double>(), 1e-4);
}
