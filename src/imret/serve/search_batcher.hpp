#pragma once
// Concurrent searches gathered into one. While a search runs, the requests
// that arrive with the same metric, k and parameters wait; the next search
// takes them all (up to max_rows query rows), so the database is read once
// for many queries (one matrix product instead of many matrix-vector
// products: exact search is bound by reading the database). A lone request
// runs at once: no added latency. Results are each request's own rows, the
// same as searching alone.
#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "imret/search/index.hpp"

namespace imret::serve {

class SearchBatcher {
 public:
  // Searches `queries` (rows) for their k nearest with `params`; called by
  // one request at a time per group, from the thread of one of them.
  using Search = std::function<search::SearchResult(const at::Tensor& queries, int64_t k, search::Metric metric,
                                                    const search::SearchParams& params)>;
  explicit SearchBatcher(Search search, int64_t max_rows = 256);

  // This request's result, searched with whatever others wait beside it.
  // Rethrows the search's exception to every request of its batch.
  search::SearchResult search(const at::Tensor& queries, int64_t k, search::Metric metric,
                              const search::SearchParams& params);
  // Searches run and the requests they answered, for tests and metrics.
  int64_t searches() const;
  int64_t requests() const;

 private:
  struct Pending;
  struct Group {
    bool running = false;
    std::vector<std::shared_ptr<Pending>> waiting;
  };
  void run_batch(std::unique_lock<std::mutex>& lock, Group& group, int64_t k, search::Metric metric,
                 const search::SearchParams& params);

  Search search_;
  int64_t max_rows_;
  mutable std::mutex mutex_;
  std::condition_variable done_;
  std::map<std::string, Group> groups_;  // by metric, k and parameters
  int64_t searches_ = 0, requests_ = 0;
};

}  // namespace imret::serve
