#include "imret/serve/search_batcher.hpp"

#include <torch/torch.h>

#include <exception>

namespace imret::serve {

struct SearchBatcher::Pending {
  at::Tensor queries;
  bool done = false;
  search::SearchResult result;
  std::exception_ptr error;
};

SearchBatcher::SearchBatcher(Search search, int64_t max_rows) : search_(std::move(search)), max_rows_(max_rows) {}

search::SearchResult SearchBatcher::search(const at::Tensor& queries, int64_t k, search::Metric metric,
                                           const search::SearchParams& params) {
  const std::string key = std::to_string(static_cast<int>(metric)) + "/" + std::to_string(k) + "/" + params.to_string();
  auto pending = std::make_shared<Pending>();
  pending->queries = queries;
  std::unique_lock<std::mutex> lock(mutex_);
  Group& group = groups_[key];
  group.waiting.push_back(pending);
  while (!pending->done) {
    if (!group.running) run_batch(lock, group, k, metric, params);
    else done_.wait(lock);
  }
  // Every request of the group answered: the group goes (keys are as many as
  // the settings clients send, so none may stay).
  const auto it = groups_.find(key);
  if (it != groups_.end() && !it->second.running && it->second.waiting.empty()) groups_.erase(it);
  if (pending->error) std::rethrow_exception(pending->error);
  return std::move(pending->result);
}

void SearchBatcher::run_batch(std::unique_lock<std::mutex>& lock, Group& group, int64_t k, search::Metric metric,
                              const search::SearchParams& params) {
  std::vector<std::shared_ptr<Pending>> batch;
  int64_t rows = 0;
  size_t taken = 0;
  for (; taken < group.waiting.size(); ++taken) {
    const int64_t n = group.waiting[taken]->queries.size(0);
    if (!batch.empty() && rows + n > max_rows_) break;
    batch.push_back(group.waiting[taken]);
    rows += n;
  }
  group.waiting.erase(group.waiting.begin(), group.waiting.begin() + static_cast<long>(taken));
  group.running = true;
  ++searches_;
  requests_ += static_cast<int64_t>(batch.size());
  lock.unlock();
  search::SearchResult all;
  std::exception_ptr error;
  try {
    if (batch.size() == 1) {
      all = search_(batch[0]->queries, k, metric, params);
    } else {
      std::vector<at::Tensor> parts;
      for (const auto& p : batch) parts.push_back(p->queries.to(torch::kFloat32));
      all = search_(torch::cat(parts), k, metric, params);
    }
  } catch (...) {
    error = std::current_exception();
  }
  lock.lock();
  int64_t row = 0;
  for (const auto& p : batch) {
    const int64_t n = p->queries.size(0);
    if (error) {
      p->error = error;
    } else if (batch.size() == 1) {
      p->result = std::move(all);
    } else {
      p->result.metric = all.metric;
      p->result.ids = all.ids.narrow(0, row, n);
      p->result.scores = all.scores.narrow(0, row, n);
    }
    row += n;
    p->done = true;
  }
  group.running = false;
  done_.notify_all();
}

int64_t SearchBatcher::searches() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return searches_;
}

int64_t SearchBatcher::requests() const {
  const std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

}  // namespace imret::serve
