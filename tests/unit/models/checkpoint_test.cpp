#include "imret/models/checkpoint.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/core/safetensors.hpp"

#include "support/scratch.hpp"

namespace fs = std::filesystem;
using namespace imret::models;

namespace {
fs::path temp_path(const std::string& name) { return imret::testing::scratch_path("checkpoint_test", name); }
}  // namespace

TEST(Checkpoint, RoundTripGivesTheSameNetwork) {
  torch::manual_seed(1);
  auto net = make_network({"convnet", 1, 10, 32});
  // Training mode moves the batch-norm running statistics away from their defaults.
  net->train();
  for (int i = 0; i < 3; ++i) net->forward(torch::randn({8, 1, 28, 28}));
  CheckpointInfo info;
  info.spec = {"convnet", 1, 10, 32};
  info.classes = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
  info.epoch = 4;
  info.preprocess = {{"mean", {0.5}}};
  const fs::path path = temp_path("net.safetensors");
  save_checkpoint(path, *net, info);
  EXPECT_TRUE(fs::exists(sidecar_path(path)));

  LoadedNetwork loaded = load_checkpoint(path);
  EXPECT_EQ(loaded.info.epoch, 4);
  EXPECT_EQ(loaded.info.classes, info.classes);
  EXPECT_EQ(loaded.info.spec.embedding_dim, 32);
  net->eval();
  loaded.network->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({5, 1, 28, 28});
  EXPECT_TRUE(torch::equal(net->embed(x), loaded.network->embed(x)));
}

TEST(Checkpoint, LoadStateReportsMissingUnexpectedAndMisShapedKeys) {
  auto net = make_network({"convnet", 1, 10, 16});
  auto tensors = state_dict(*net);
  tensors.erase(tensors.begin());  // drop the first key: missing
  tensors.emplace_back("head.extra", torch::zeros({2}));
  for (auto& [name, tensor] : tensors)
    if (name == "fc.weight") tensor = torch::zeros({3, 16});
  try {
    load_state(*net, tensors, "w.safetensors");
    FAIL() << "accepted";
  } catch (const imret::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("w.safetensors: weights do not fit the model"), std::string::npos) << message;
    EXPECT_NE(message.find("missing keys: features.0.weight"), std::string::npos) << message;
    EXPECT_NE(message.find("unexpected keys: head.extra"), std::string::npos) << message;
    EXPECT_NE(message.find("wrong shapes: fc.weight (file [3, 16], model [10, 16])"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

TEST(Checkpoint, AFileWithoutDescriptionIsRejectedClearly) {
  const fs::path path = temp_path("plain.safetensors");
  imret::save_safetensors(path, {{"w", torch::zeros({1})}});
  try {
    load_checkpoint(path);
    FAIL();
  } catch (const imret::Error& e) {
    EXPECT_NE(std::string(e.what()).find("is this an imret checkpoint?"), std::string::npos) << e.what();
  }
}
