// The detectors on a CUDA GPU give the CPU's detections (TF32 off: cuDNN's
// default TF32 convolutions differ from the CPU by about 1e-3 relative).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "detector_reference.hpp"
#include "imret/detect/detector.hpp"

using namespace imret;

namespace {

void expect_cuda_gives_cpu_detections(const std::string& arch) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device on this machine";
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
  const auto dir = imret::testing::reference_for(arch);
  const auto images = imret::testing::images_of(dir, imret::testing::sizes_of(dir));
  auto detector = detect::Detector::load(dir / "weights_zip.pth", {});
  const auto cpu = detector->run(images);
  detector->to(torch::kCUDA);
  const auto cuda = detector->run(images);
  for (size_t level = 0; level < cpu.features.size(); ++level) {
    const torch::Tensor f = cuda.features[level].cpu();
    EXPECT_LT((f - cpu.features[level]).abs().max().item<double>() / cpu.features[level].abs().max().item<double>(),
              1e-4);
  }
  for (size_t i = 0; i < images.size(); ++i) {
    const auto& c = cpu.detections[i];
    const auto& g = cuda.detections[i];
    ASSERT_EQ(g.size(), c.size()) << "image " << i;
    EXPECT_TRUE(torch::equal(g.labels.cpu(), c.labels)) << "image " << i;
    EXPECT_LT((g.boxes.cpu() - c.boxes).abs().max().item<double>(), 1e-2) << "image " << i;
    EXPECT_LT((g.scores.cpu() - c.scores).abs().max().item<double>(), 1e-3) << "image " << i;
    if (c.has_masks()) EXPECT_LT((g.masks.cpu() - c.masks).abs().max().item<double>(), 1e-2) << "image " << i;
  }
}

}  // namespace

TEST(CudaDetector, FasterRcnnGivesTheCpuDetections) { expect_cuda_gives_cpu_detections("fasterrcnn"); }
TEST(CudaDetector, MaskRcnnGivesTheCpuDetections) { expect_cuda_gives_cpu_detections("maskrcnn"); }
