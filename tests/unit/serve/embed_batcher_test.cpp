// Dynamic batching (embed_batcher.hpp): concurrent callers get the
// embeddings the network gives each image alone, in batches of more than
// one, and a full queue refuses instead of growing.
#include "imret/serve/embed_batcher.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <thread>

namespace imret::serve {
namespace {

std::shared_ptr<models::Network> small_network() {
  torch::manual_seed(3);
  models::NetworkSpec spec;  // the 28 x 28 grey ConvNet
  auto network = models::make_network(spec);
  network->eval();
  return network;
}

TEST(EmbedBatcher, ConcurrentCallersGetTheirOwnEmbeddingsInSharedBatches) {
  auto network = small_network();
  const at::Tensor images = torch::rand({24, 1, 28, 28});
  at::Tensor alone;
  {
    torch::NoGradGuard no_grad;
    alone = network->embed(images);
  }
  std::mutex sizes_mutex;
  std::vector<int64_t> sizes;
  BatcherOptions options;
  options.max_batch = 8;
  options.wait = std::chrono::milliseconds(50);
  options.on_batch = [&](int64_t n) {
    std::lock_guard<std::mutex> lock(sizes_mutex);
    sizes.push_back(n);
  };
  EmbedBatcher batcher(network, options);
  std::vector<at::Tensor> got(12);
  std::vector<std::thread> callers;
  for (int c = 0; c < 12; ++c)  // 12 callers of 2 images each
    callers.emplace_back([&, c] { got[c] = batcher.embed({images[2 * c], images[2 * c + 1]}); });
  for (auto& t : callers) t.join();
  for (int c = 0; c < 12; ++c) {
    ASSERT_EQ(got[c].sizes(), (std::vector<int64_t>{2, network->embedding_dim()}));
    EXPECT_TRUE(torch::allclose(got[c], alone.narrow(0, 2 * c, 2), 1e-5, 1e-5)) << "caller " << c;
  }
  int64_t total = 0, largest = 0;
  for (int64_t n : sizes) {
    EXPECT_LE(n, 8);
    total += n;
    largest = std::max(largest, n);
  }
  EXPECT_EQ(total, 24);
  EXPECT_GT(largest, 2) << "no two callers shared a batch";
  EXPECT_EQ(batcher.queued(), 0);
}

TEST(EmbedBatcher, ImagesOfDifferentShapesGoThroughApart) {
  torch::manual_seed(4);
  models::NetworkSpec spec;
  spec.arch = "resnet18";
  spec.in_channels = 3;
  auto network = models::make_network(spec);
  network->eval();
  const at::Tensor a = torch::rand({3, 64, 64}), b = torch::rand({3, 32, 48});
  at::Tensor a_alone, b_alone;
  {
    torch::NoGradGuard no_grad;
    a_alone = network->embed(a.unsqueeze(0));
    b_alone = network->embed(b.unsqueeze(0));
  }
  EmbedBatcher batcher(network, {});
  const at::Tensor both = batcher.embed({a, b});
  EXPECT_TRUE(torch::allclose(both[0], a_alone[0], 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(both[1], b_alone[0], 1e-4, 1e-4));
}

TEST(EmbedBatcher, AFullQueueRefuses) {
  auto network = small_network();
  BatcherOptions options;
  options.max_batch = 4;
  options.max_queued = 4;
  options.wait = std::chrono::milliseconds(400);  // the first caller's images wait long enough to be seen
  EmbedBatcher batcher(network, options);
  std::thread first([&] { batcher.embed({torch::rand({1, 28, 28}), torch::rand({1, 28, 28})}); });
  while (batcher.queued() == 0) std::this_thread::yield();
  EXPECT_THROW(batcher.embed({torch::rand({1, 28, 28}), torch::rand({1, 28, 28}), torch::rand({1, 28, 28})}),
               Overloaded);
  first.join();
  EXPECT_EQ(batcher.embed({torch::rand({1, 28, 28})}).size(0), 1);  // room again
}

}  // namespace
}  // namespace imret::serve
