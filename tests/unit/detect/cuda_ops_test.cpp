// nms, batched_nms and roi_align on CUDA tensors (the mask and tensor-operation
// paths) give what the CPU gives. These run where LibTorch sees a GPU
// (scripts/gpu/check.sh runs them there) and are skipped, with the reason, on
// machines without one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/detect/nms.hpp"
#include "imret/detect/roi_align.hpp"

using namespace imret::detect;

namespace {

// Boxes jittered around a few centres, many IoUs near any threshold.
torch::Tensor clustered_boxes(int64_t k, int64_t clusters) {
  const torch::Tensor centre = torch::rand({clusters, 2}) * 500;
  const torch::Tensor size = torch::rand({clusters, 2}) * 150 + 10;
  const torch::Tensor pick = torch::randint(clusters, {k}, torch::kLong);
  const torch::Tensor c = centre.index_select(0, pick) + torch::randn({k, 2}) * 8;
  const torch::Tensor s = size.index_select(0, pick) * (torch::rand({k, 2}) * 0.5 + 0.75);
  return torch::cat({c - s / 2, c + s / 2}, 1);
}

}  // namespace

TEST(CudaNms, KeepsWhatTheCpuKeeps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  torch::manual_seed(0);
  for (int64_t k : {1, 50, 1500, 6000}) {  // 6000: several row chunks of the IoU mask
    for (auto type : {torch::kFloat, torch::kDouble}) {
      const torch::Tensor boxes = clustered_boxes(k, 1 + k / 40).to(type);
      // Distinct scores: with ties the order among them may differ between devices (as in torchvision).
      const torch::Tensor scores = torch::randperm(k, torch::kLong).to(type) / k;
      for (double threshold : {0.0, 0.5, 0.7, 1.0}) {
        const torch::Tensor cpu = nms(boxes, scores, threshold);
        const torch::Tensor gpu = nms(boxes.cuda(), scores.cuda(), threshold);
        EXPECT_TRUE(gpu.is_cuda());
        EXPECT_EQ(gpu.scalar_type(), torch::kLong);
        EXPECT_TRUE(torch::equal(cpu, gpu.cpu())) << "K " << k << ", threshold " << threshold;
      }
      const torch::Tensor groups = torch::randint(6, {k}, torch::kLong);
      EXPECT_TRUE(torch::equal(batched_nms(boxes, scores, groups, 0.5),
                               batched_nms(boxes.cuda(), scores.cuda(), groups.cuda(), 0.5).cpu()));
    }
  }
  const torch::Tensor empty = nms(torch::empty({0, 4}).cuda(), torch::empty({0}).cuda(), 0.5);
  EXPECT_TRUE(empty.is_cuda());
  EXPECT_EQ(empty.numel(), 0);
}

TEST(CudaRoiAlign, GivesTheCpuValues) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  torch::manual_seed(1);
  for (auto type : {torch::kFloat, torch::kDouble}) {
    const torch::Tensor input = torch::randn({2, 32, 50, 76}).to(type);
    const torch::Tensor corner = torch::rand({300, 2}) * torch::tensor({320.0f, 216.0f}) - 8;
    const torch::Tensor side = torch::rand({300, 2}) * 192;
    const torch::Tensor batch = torch::randint(2, {300, 1}).to(torch::kFloat);
    const torch::Tensor rois = torch::cat({batch, corner, corner + side}, 1).to(type);
    const double tolerance = type == torch::kDouble ? 1e-10 : 1e-5;
    for (bool aligned : {false, true})
      for (int64_t sampling : {0, 2}) {
        const torch::Tensor cpu = roi_align(input, rois, 7, 7, 0.25, sampling, aligned);
        const torch::Tensor gpu = roi_align(input.cuda(), rois.cuda(), 7, 7, 0.25, sampling, aligned);
        EXPECT_TRUE(gpu.is_cuda());
        EXPECT_TRUE(torch::allclose(cpu, gpu.cpu(), tolerance, tolerance))
            << "aligned " << aligned << ", sampling " << sampling << ": max difference "
            << (cpu - gpu.cpu()).abs().max().item<double>();
      }
    const torch::Tensor mask = roi_align(input.cuda(), rois.cuda(), 14, 14, 0.25, 2, false);
    EXPECT_TRUE(torch::allclose(roi_align(input, rois, 14, 14, 0.25, 2, false), mask.cpu(), tolerance, tolerance));
  }
  const torch::Tensor empty =
      roi_align(torch::randn({1, 4, 8, 8}).cuda(), torch::empty({0, 5}).cuda(), 7, 7, 1.0, 2, false);
  EXPECT_TRUE(empty.is_cuda());
  EXPECT_EQ(empty.sizes(), torch::IntArrayRef({0, 4, 7, 7}));
}
