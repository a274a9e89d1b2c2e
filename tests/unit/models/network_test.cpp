#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "imret/core/error.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/models/network.hpp"

using imret::models::make_network;
using imret::models::NetworkSpec;

namespace {
// {name: shape} of torchvision's state_dict for `arch`, from Debian's torchvision.
std::map<std::string, std::vector<int64_t>> torchvision_state_shapes(const std::string& arch) {
  const std::string command = "/usr/bin/python3 -c \"import torchvision; m = torchvision.models." + arch +
                              "(); [print(k, *v.shape) for k, v in m.state_dict().items()]\"";
  FILE* pipe = popen(command.c_str(), "r");
  EXPECT_NE(pipe, nullptr);
  std::map<std::string, std::vector<int64_t>> shapes;
  char line[512];
  while (pipe && std::fgets(line, sizeof line, pipe)) {
    std::istringstream words(line);
    std::string name;
    words >> name;
    int64_t d;
    while (words >> d) shapes[name].push_back(d);
    shapes[name];  // scalars (num_batches_tracked) have no dimensions
  }
  EXPECT_EQ(pclose(pipe), 0) << command;
  return shapes;
}
}  // namespace

TEST(ConvNet, EmbedsTo64AndClassifiesTo10) {
  auto net = make_network({"convnet", 1, 10, 64});
  net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({3, 1, 28, 28});
  const auto e = net->embed(x);
  EXPECT_EQ(e.sizes(), (std::vector<int64_t>{3, 64}));
  EXPECT_EQ(net->forward(x).sizes(), (std::vector<int64_t>{3, 10}));
  EXPECT_TRUE(torch::allclose(net->forward(x), net->classify(e)));
}

class ResNetKeys : public ::testing::TestWithParam<std::string> {};

TEST_P(ResNetKeys, MatchTorchvisionNamesAndShapes) {
  const std::string arch = GetParam();
  auto net = make_network({arch, 3, 1000, 0});
  std::map<std::string, std::vector<int64_t>> ours;
  for (const auto& [name, tensor] : imret::models::state_dict(*net)) ours[name] = tensor.sizes().vec();
  const auto theirs = torchvision_state_shapes(arch);
  ASSERT_FALSE(theirs.empty());
  EXPECT_EQ(ours, theirs);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, ResNetKeys, ::testing::Values("resnet18", "resnet34", "resnet50", "resnet101"));

TEST(ResNet, EmbeddingIsThePooledFeatureVector) {
  for (const auto& [arch, dim] : std::vector<std::pair<std::string, int64_t>>{{"resnet18", 512}, {"resnet50", 2048}}) {
    auto net = make_network({arch, 3, 7, 0});
    net->eval();
    torch::NoGradGuard no_grad;
    EXPECT_EQ(net->embed(torch::randn({2, 3, 64, 64})).sizes(), (std::vector<int64_t>{2, dim}));
    EXPECT_EQ(net->embedding_dim(), dim);
  }
}

TEST(Network, UnknownArchitectureIsAUsageError) {
  try {
    make_network({"vgg16", 3, 10, 64});
    FAIL();
  } catch (const imret::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown architecture 'vgg16'"), std::string::npos);
  }
}

namespace {
// Two networks from the same random initialisation, in evaluation mode.
std::pair<std::shared_ptr<imret::models::Network>, std::shared_ptr<imret::models::Network>> twins(
    const NetworkSpec& a, const NetworkSpec& b) {
  torch::manual_seed(3);
  auto first = make_network(a);
  torch::manual_seed(3);
  auto second = make_network(b);
  first->eval();
  second->eval();
  return {first, second};
}
}  // namespace

TEST(LearnedMetric, TheMetricMapTurnsEuclideanDistancesIntoTheMahalanobisDistance) {
  NetworkSpec plain{"convnet", 1, 10, 16};
  NetworkSpec learned = plain;
  learned.learned_metric = true;
  auto [base, mapped] = twins(plain, learned);
  EXPECT_FALSE(base->has_metric_map());
  ASSERT_TRUE(mapped->has_metric_map());
  auto state = imret::models::state_dict(*mapped);
  auto it = std::find_if(state.begin(), state.end(), [](const auto& kv) { return kv.first == "metric_map.weight"; });
  ASSERT_NE(it, state.end());
  EXPECT_TRUE(torch::equal(it->second, torch::eye(16)));

  torch::NoGradGuard no_grad;
  const torch::Tensor images = torch::randn({5, 1, 28, 28});
  const torch::Tensor x = torch::nn::functional::normalize(base->embed(images),
                                                           torch::nn::functional::NormalizeFuncOptions().dim(1));
  // Identity at first: the normalised embedding.
  EXPECT_TRUE(torch::allclose(mapped->embed(images), x, 1e-5, 1e-6));
  // Any L: ||Lx_i - Lx_j|| = sqrt((x_i - x_j)^T L^T L (x_i - x_j)).
  const torch::Tensor L = torch::randn({16, 16});
  it->second.copy_(L);
  const torch::Tensor out = mapped->embed(images);
  const torch::Tensor M = L.t().mm(L);
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 5; ++j) {
      const torch::Tensor d = (x[i] - x[j]).unsqueeze(1);
      const double mahalanobis = std::sqrt(std::max(0.0, d.t().mm(M).mm(d).item<double>()));
      EXPECT_NEAR((out[i] - out[j]).norm().item<double>(), mahalanobis, 1e-4);
    }
  // The spec round-trips; a spec without the flag stays as before.
  EXPECT_TRUE(NetworkSpec::from_json(learned.to_json()).learned_metric);
  EXPECT_FALSE(plain.to_json().contains("learned_metric"));
}

TEST(ConvNet, TheEmbeddingIsTheClassifiersInputOrThePreActivationForMetricLearning) {
  NetworkSpec with_relu{"convnet", 1, 10, 32};
  NetworkSpec without = with_relu;
  without.embedding_relu = false;
  auto [a, b] = twins(with_relu, without);
  torch::NoGradGuard no_grad;
  const torch::Tensor images = torch::randn({6, 1, 28, 28});
  const torch::Tensor ea = a->embed(images), eb = b->embed(images);
  EXPECT_GE(ea.min().item<double>(), 0.0);
  EXPECT_LT(eb.min().item<double>(), 0.0);  // the whole space, not its positive part
  EXPECT_TRUE(torch::equal(ea, torch::relu(eb)));
  // The classifier sees the same input either way.
  EXPECT_TRUE(torch::allclose(a->forward(images), b->forward(images)));
  EXPECT_FALSE(NetworkSpec::from_json(without.to_json()).embedding_relu);
  EXPECT_TRUE(NetworkSpec::from_json(with_relu.to_json()).embedding_relu);
}

TEST(EmbeddingHead, ProjectsTheFeaturesAndHasNoClassifierOnItsOutput) {
  NetworkSpec spec{"resnet18", 3, 5, 64};
  spec.head_dim = 32;
  auto net = make_network(spec);
  EXPECT_EQ(net->feature_dim(), 512);
  EXPECT_EQ(net->embedding_dim(), 32);
  EXPECT_EQ(NetworkSpec::from_json(spec.to_json()).head_dim, 32);

  // With the head set to keep the first 32 features, the embedding is those
  // features of the same network without a head.
  NetworkSpec plain_spec = spec;
  plain_spec.head_dim = 0;
  auto plain = make_network(plain_spec);
  {
    torch::NoGradGuard no_grad;
    auto mine = net->named_parameters();
    for (auto& item : plain->named_parameters()) item.value().copy_(mine[item.key()]);
    auto buffers = net->named_buffers();
    for (auto& item : plain->named_buffers()) item.value().copy_(buffers[item.key()]);
    mine["embedding_head.weight"].zero_();
    mine["embedding_head.weight"].narrow(1, 0, 32).copy_(torch::eye(32));
    mine["embedding_head.bias"].zero_();
  }
  net->eval();
  plain->eval();
  const torch::Tensor images = torch::randn({2, 3, 64, 64});
  const torch::Tensor embedded = net->embed(images);
  ASSERT_EQ(embedded.sizes(), (std::vector<int64_t>{2, 32}));
  EXPECT_TRUE(torch::allclose(embedded, plain->embed(images).narrow(1, 0, 32), 1e-5, 1e-6));
  EXPECT_THROW(net->forward(images), imret::UsageError);

  // A metric map comes after the head, on its output.
  spec.learned_metric = true;
  auto mapped = make_network(spec);
  EXPECT_EQ(mapped->named_parameters()["metric_map.weight"].sizes(), (std::vector<int64_t>{32, 32}));
  spec.head_dim = -1;
  EXPECT_THROW(make_network(spec), imret::UsageError);
}
