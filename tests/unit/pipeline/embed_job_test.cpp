// pipeline::embed_to_folder: the folder holds what the network computes for
// each image of the split, whether the network comes from a checkpoint or
// from an architecture with weights, and a request that cannot say which
// network to use is refused before anything is written.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/safetensors.hpp"
#include "imret/data/idx.hpp"
#include "imret/data/transforms.hpp"
#include "imret/pipeline/embed_job.hpp"
#include "pipeline/small_data.hpp"
#include "support/errors.hpp"

namespace imret {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  fs::path data;
  fs::path checkpoint;
  fs::path weights;
  std::shared_ptr<models::Network> network;
  data::Preprocess preprocess;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture made;
    made.data = testing::small_fashion_folder("pipeline", "embed", 20, 30);
    torch::manual_seed(11);
    models::NetworkSpec spec;  // a 64-d ConvNet for 1 x 28 x 28 images, 10 classes
    made.network = models::make_network(spec);
    made.preprocess.mean = {0.2860};
    made.preprocess.std = {0.3530};
    models::CheckpointInfo info;
    info.spec = spec;
    info.classes = data::fashion_mnist_classes();
    info.preprocess = made.preprocess.to_json();
    made.checkpoint = testing::scratch_path("pipeline", "embed_net.safetensors");
    models::save_checkpoint(made.checkpoint, *made.network, info);
    std::vector<std::pair<std::string, at::Tensor>> state;
    for (const auto& p : made.network->named_parameters()) state.emplace_back(p.key(), p.value());
    for (const auto& b : made.network->named_buffers()) state.emplace_back(b.key(), b.value());
    made.weights = testing::scratch_path("pipeline", "embed_weights.safetensors");
    save_safetensors(made.weights, state);
    return made;
  }();
  return f;
}

// What the network gives for the test split, computed here image by image.
at::Tensor expected_embeddings(const Fixture& f) {
  auto test = data::load_mnist_folder(f.data, "test");
  std::vector<at::Tensor> rows;
  f.network->eval();
  torch::NoGradGuard no_grad;
  for (int64_t i = 0; i < test->size(); ++i) {
    const at::Tensor image = (test->load(i) - f.preprocess.mean[0]) / f.preprocess.std[0];
    rows.push_back(f.network->embed(image.unsqueeze(0)).squeeze(0));
  }
  return torch::stack(rows);
}

at::Tensor written_embeddings(const EmbeddingSet& set) {
  return torch::from_blob(const_cast<float*>(set.embeddings.values.data()), {set.embeddings.rows, set.embeddings.cols})
      .clone();
}

TEST(EmbedJob, CheckpointEmbeddingsAreTheNetworksOutputs) {
  const Fixture& f = fixture();
  pipeline::EmbedRequest request;
  request.data = f.data.string();
  request.split = "test";
  request.checkpoint = f.checkpoint.string();
  request.options.workers = 0;
  const fs::path out = testing::scratch_path("pipeline", "embed_checkpoint");
  const pipeline::EmbedOutcome outcome = pipeline::embed_to_folder(request, out);
  EXPECT_EQ(outcome.embedded, 30);
  EXPECT_EQ(outcome.images, 30);
  EXPECT_EQ(outcome.dimension, 64);
  const EmbeddingSet set = load_embedding_set(out);
  EXPECT_TRUE(torch::allclose(written_embeddings(set), expected_embeddings(f), 1e-4, 1e-5));
  EXPECT_EQ(set.meta["checkpoint"], fs::absolute(f.checkpoint).string());
  EXPECT_EQ(set.meta["split"], "test");
  EXPECT_EQ(set.meta["classes"], data::fashion_mnist_classes());
  EXPECT_EQ(set.items[3].label, data::load_mnist_folder(f.data, "test")->label(3));
}

TEST(EmbedJob, WeightsGiveTheSameEmbeddingsAsTheCheckpoint) {
  const Fixture& f = fixture();
  pipeline::EmbedRequest request;
  request.data = f.data.string();
  request.arch = "convnet";
  request.weights = f.weights.string();
  request.options.workers = 0;
  const fs::path out = testing::scratch_path("pipeline", "embed_weights");
  EXPECT_EQ(pipeline::embed_to_folder(request, out).embedded, 30);
  const EmbeddingSet set = load_embedding_set(out);
  // Grey data gets Fashion-MNIST's mean and std by default: the checkpoint's preprocessing.
  EXPECT_TRUE(torch::allclose(written_embeddings(set), expected_embeddings(f), 1e-4, 1e-5));
  EXPECT_EQ(set.meta["weights"], fs::absolute(f.weights).string());
  EXPECT_EQ(set.meta["network"]["num_classes"], 10);  // from the file's classifier
}

TEST(EmbedJob, RequestsThatDoNotNameOneNetworkAreRefused) {
  const Fixture& f = fixture();
  const fs::path out = testing::scratch_path("pipeline", "embed_refused");
  pipeline::EmbedRequest both;
  both.data = f.data.string();
  both.checkpoint = f.checkpoint.string();
  both.weights = f.weights.string();
  both.arch = "convnet";
  pipeline::EmbedRequest no_arch = both;
  no_arch.checkpoint.clear();
  no_arch.arch.clear();
  pipeline::EmbedRequest preprocess_with_checkpoint = both;
  preprocess_with_checkpoint.weights.clear();
  preprocess_with_checkpoint.arch.clear();
  preprocess_with_checkpoint.preprocess.resize = 32;
  for (const auto& [request, field] : {std::pair{both, "checkpoint"}, std::pair{no_arch, "arch"},
                                       std::pair{preprocess_with_checkpoint, "checkpoint"}}) {
    const std::string error = testing::error_of([&, &r = request] { pipeline::embed_to_folder(r, out); });
    EXPECT_EQ(error.rfind(field, 0), 0u) << error;
    EXPECT_EQ(error.find("--"), std::string::npos) << error;
  }
  EXPECT_FALSE(fs::exists(out));
}

TEST(EmbedJob, ANetworkForOtherChannelsIsRefused) {
  const Fixture& f = fixture();
  models::NetworkSpec spec;
  spec.in_channels = 3;
  models::LoadedNetwork colour{models::make_network(spec), {}};
  colour.info.spec = spec;
  colour.info.preprocess = data::Preprocess{}.to_json();
  const std::string error = testing::error_of([&] {
    pipeline::embed_dataset_to_folder(colour, data::load_mnist_folder(f.data, "test"), {}, {},
                                      testing::scratch_path("pipeline", "embed_channels"));
  });
  EXPECT_NE(error.find("3-channel images but the data has 1 channels"), std::string::npos) << error;
}

}  // namespace
}  // namespace imret
