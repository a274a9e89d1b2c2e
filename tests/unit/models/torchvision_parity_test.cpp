// imret's ResNets with torchvision's weights give torchvision's outputs:
// every architecture, every weight-file format (zip .pth, legacy .pth,
// safetensors), logits and pooled features. Out of training imret folds
// batch norm into the convolutions: its outputs equal PyTorch's own folding
// (torch.fx fuse) to 1e-6 of their size (bit for bit here), and torchvision's unfolded outputs
// to what folding rounds differently (PyTorch's folding too: up to 4.5e-4 for
// the deep calibrated ResNet-101 here).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "imret/core/npy.hpp"
#include "imret/models/network.hpp"
#include "imret/models/pretrained.hpp"

namespace fs = std::filesystem;
using namespace imret;

namespace {

torch::Tensor load_tensor(const fs::path& path, std::vector<int64_t> shape) {
  FloatMatrix m = load_npy(path);
  return torch::tensor(m.values).reshape(shape);
}

// One reference folder per architecture, made by Debian's torchvision the
// first time a test asks for it (each test runs in its own process, several
// at once): written under a private name, then renamed into place.
fs::path reference_for(const std::string& arch) {
  const fs::path root = fs::temp_directory_path() / "imret_torchvision_reference_v3";
  const fs::path dir = root / arch;
  if (!fs::exists(dir)) {
    const fs::path scratch = root / (arch + ".tmp-" + std::to_string(::getpid()));
    fs::create_directories(scratch);
    const std::string command = "/usr/bin/python3 " + std::string(IMRET_SOURCE_DIR) +
                                "/tests/unit/models/torchvision_reference.py " + arch + " " + scratch.string();
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    std::error_code ec;
    fs::rename(scratch, dir, ec);  // fails harmlessly when another process got there first
    fs::remove_all(scratch, ec);
  }
  return dir;
}

using TorchvisionParity = ::testing::TestWithParam<std::tuple<std::string, std::string>>;

}  // namespace

TEST_P(TorchvisionParity, LogitsAndPooledFeaturesMatch) {
  const auto& [arch, file] = GetParam();
  const fs::path dir = reference_for(arch);
  auto network = models::make_network({arch, 3, 1000, 0});
  models::load_pretrained(*network, dir / file, {});
  network->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor input = load_tensor(dir / "input.npy", {2, 3, 64, 64});
  const torch::Tensor features = network->embed(input);
  const torch::Tensor logits = network->classify(features);
  const torch::Tensor expected_features = load_tensor(dir / "features.npy", {2, network->embedding_dim()});
  const torch::Tensor expected_logits = load_tensor(dir / "logits.npy", {2, 1000});
  auto relative_error = [](const torch::Tensor& ours, const torch::Tensor& expected) {
    return (ours - expected).abs().max().item<double>() / std::max(1.0, expected.abs().max().item<double>());
  };
  const int64_t dim = network->embedding_dim();
  const double feature_error = relative_error(features, expected_features);
  const double logit_error = relative_error(logits, expected_logits);
  const double fused_feature_error = relative_error(features, load_tensor(dir / "fused_features.npy", {2, dim}));
  const double fused_logit_error = relative_error(logits, load_tensor(dir / "fused_logits.npy", {2, 1000}));
  std::printf("%s %s: max |imret - torchvision| / max |torchvision|: features %.2e, logits %.2e; "
              "against PyTorch's folding: %.2e, %.2e\n",
              arch.c_str(), file.c_str(), feature_error, logit_error, fused_feature_error, fused_logit_error);
  EXPECT_LE(fused_feature_error, 1e-6) << arch << " " << file;
  EXPECT_LE(fused_logit_error, 1e-6) << arch << " " << file;
  EXPECT_LE(feature_error, 1e-3) << arch << " " << file;
  EXPECT_LE(logit_error, 1e-3) << arch << " " << file;
  // The comparison is not trivially small: outputs are of order one.
  EXPECT_GT(expected_logits.abs().max().item<double>(), 0.1);
}

INSTANTIATE_TEST_SUITE_P(AllFormats, TorchvisionParity,
                         ::testing::Combine(::testing::Values("resnet18", "resnet34", "resnet50", "resnet101"),
                                            ::testing::Values("weights_zip.pth", "weights_legacy.pth",
                                                              "weights.safetensors")));

TEST(Pretrained, PrefixRulesStripAndAdd) {
  TensorFile file;
  file.tensors = {{"module.fc.weight", torch::zeros({1})}, {"other", torch::zeros({1})}};
  models::apply_prefix_rules(file, {"module.", "+backbone."});
  EXPECT_EQ(file.tensors[0].first, "backbone.fc.weight");
  EXPECT_EQ(file.tensors[1].first, "backbone.other");
}
