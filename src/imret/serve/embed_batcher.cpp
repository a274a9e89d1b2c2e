#include "imret/serve/embed_batcher.hpp"

#include <torch/torch.h>

#include <map>

#include "imret/models/channels_last.hpp"

namespace imret::serve {

EmbedBatcher::EmbedBatcher(std::shared_ptr<models::Network> network, BatcherOptions options)
    : network_(std::move(network)), options_(std::move(options)) {
  if (options_.max_batch < 1) options_.max_batch = 1;
  check_precision_on(options_.precision, options_.device);
  network_->eval();
  network_->to(options_.device);
  network_->set_precision(options_.precision);
  models::use_channels_last(*network_);  // oneDNN's faster convolution layout (models/channels_last.hpp)
  worker_ = std::thread([this] { run(); });
}

EmbedBatcher::~EmbedBatcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

int64_t EmbedBatcher::queued() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queued_;
}

at::Tensor EmbedBatcher::embed(const std::vector<at::Tensor>& images) {
  if (images.empty()) return torch::empty({0, network_->embedding_dim()});
  auto job = std::make_unique<Job>();
  job->images = images;
  std::future<at::Tensor> result = job->result.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const int64_t count = static_cast<int64_t>(images.size());
    if (queued_ > 0 && queued_ + count > options_.max_queued)
      throw Overloaded(std::to_string(queued_) + " images are waiting to be embedded (the limit is " +
                       std::to_string(options_.max_queued) + "); try again shortly");
    if (stopping_) throw Overloaded("the service is stopping");
    queued_ += count;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_all();
  return result.get();
}

void EmbedBatcher::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stopping, nothing left
    // The first job waits up to `wait` for others, unless the batch is full.
    const auto deadline = std::chrono::steady_clock::now() + options_.wait;
    wake_.wait_until(lock, deadline, [this] { return stopping_ || queued_ >= options_.max_batch; });
    std::vector<std::unique_ptr<Job>> batch;
    int64_t images = 0;
    while (!jobs_.empty() && (batch.empty() || images + static_cast<int64_t>(jobs_.front()->images.size()) <=
                                                   options_.max_batch)) {
      images += static_cast<int64_t>(jobs_.front()->images.size());
      batch.push_back(std::move(jobs_.front()));
      jobs_.pop_front();
    }
    queued_ -= images;  // taken: no longer waiting
    lock.unlock();
    embed_batch(batch);
    lock.lock();
  }
}

void EmbedBatcher::embed_batch(std::vector<std::unique_ptr<Job>>& jobs) {
  // Images of one shape go through the network together, at most max_batch at a time.
  std::vector<const at::Tensor*> all;
  for (const auto& job : jobs)
    for (const at::Tensor& image : job->images) all.push_back(&image);
  std::vector<at::Tensor> rows(all.size());
  std::exception_ptr failure;
  try {
    c10::InferenceMode inference;
    std::map<std::vector<int64_t>, std::vector<size_t>> by_shape;
    for (size_t i = 0; i < all.size(); ++i) by_shape[all[i]->sizes().vec()].push_back(i);
    for (const auto& [shape, members] : by_shape) {
      for (size_t start = 0; start < members.size(); start += static_cast<size_t>(options_.max_batch)) {
        const size_t end = std::min(members.size(), start + static_cast<size_t>(options_.max_batch));
        std::vector<at::Tensor> inputs;
        for (size_t m = start; m < end; ++m) inputs.push_back(*all[members[m]]);
        if (options_.on_batch) options_.on_batch(static_cast<int64_t>(inputs.size()));
        const at::Tensor batch = models::channels_last(torch::stack(inputs).to(options_.device));
        const at::Tensor out = network_->embed(batch).to(torch::kCPU, torch::kFloat32);
        for (size_t m = start; m < end; ++m) rows[members[m]] = out[static_cast<int64_t>(m - start)];
      }
    }
  } catch (...) {
    failure = std::current_exception();
  }
  size_t next = 0;
  for (auto& job : jobs) {
    if (failure) {
      job->result.set_exception(failure);
      continue;
    }
    std::vector<at::Tensor> own(rows.begin() + static_cast<std::ptrdiff_t>(next),
                                rows.begin() + static_cast<std::ptrdiff_t>(next + job->images.size()));
    next += job->images.size();
    job->result.set_value(torch::stack(own).contiguous());
  }
}

}  // namespace imret::serve
