#pragma once
// Dynamic batching of image queries: the prepared images of requests that
// arrive within a short wait are embedded as one batch, so that a service
// under concurrent load runs the network at its batch throughput rather
// than its batch-1 throughput. One thread runs the network; callers block
// until their embeddings are ready.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "imret/core/error.hpp"
#include "imret/core/precision.hpp"
#include "imret/models/network.hpp"

namespace imret::serve {

struct BatcherOptions {
  int64_t max_batch = 32;                       // images per forward pass
  std::chrono::microseconds wait{2000};         // how long the first image waits for others
  int64_t max_queued = 256;                     // images waiting; more are refused (Overloaded)
  std::function<void(int64_t images)> on_batch;  // told each batch's size (metrics); may be empty
  c10::Device device = c10::kCPU;               // where the network runs (moved there)
  Precision precision = Precision::Fp32;        // the network's (checked against the device)
};

// More images wait than BatcherOptions::max_queued: the caller should retry later.
class Overloaded : public Error {
 public:
  using Error::Error;
};

class EmbedBatcher {
 public:
  EmbedBatcher(std::shared_ptr<models::Network> network, BatcherOptions options);
  ~EmbedBatcher();  // embeds what waits, then stops
  EmbedBatcher(const EmbedBatcher&) = delete;
  EmbedBatcher& operator=(const EmbedBatcher&) = delete;

  // The embeddings (N x D float32, CPU) of N prepared images (each C x H x W,
  // the network's input). Blocks until they are embedded. Throws Overloaded
  // when they would make more than max_queued images wait, and the network's
  // error when its forward pass fails.
  at::Tensor embed(const std::vector<at::Tensor>& images);

  int64_t queued() const;  // images waiting now

 private:
  struct Job {
    std::vector<at::Tensor> images;
    std::promise<at::Tensor> result;
  };
  void run();
  void embed_batch(std::vector<std::unique_ptr<Job>>& jobs);

  std::shared_ptr<models::Network> network_;
  BatcherOptions options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Job>> jobs_;
  int64_t queued_ = 0;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace imret::serve
