// SearchBatcher: concurrent requests with the same settings share a search,
// each gets exactly its own rows (as if it searched alone), different
// settings never share, errors reach every request of their batch, and a
// lone request is searched at once.
#include "imret/serve/search_batcher.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "imret/core/error.hpp"
#include "imret/search/index.hpp"

namespace imret::serve {
namespace {

// The real thing: an exact index, slowed down so that requests pile up.
struct SlowIndex {
  std::unique_ptr<search::Index> index = search::make_index("exact", c10::kCPU);
  std::atomic<int> calls{0};
  std::atomic<int64_t> largest{0};

  search::SearchResult operator()(const at::Tensor& q, int64_t k, search::Metric, const search::SearchParams& p) {
    ++calls;
    largest = std::max<int64_t>(largest.load(), q.size(0));
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    return index->search(q, k, p);
  }
};

TEST(SearchBatcher, ConcurrentRequestsShareSearchesAndGetTheirOwnRows) {
  torch::manual_seed(3);
  SlowIndex slow;
  slow.index->add(torch::randn({500, 16}));
  SearchBatcher batcher([&](auto&&... a) { return slow(a...); });
  const at::Tensor queries = torch::randn({24, 16});
  const auto alone = slow.index->search(queries, 5);
  std::vector<search::SearchResult> got(12);
  std::vector<std::thread> threads;
  for (int t = 0; t < 12; ++t)  // 12 requests of 2 rows each
    threads.emplace_back([&, t] { got[t] = batcher.search(queries.narrow(0, 2 * t, 2), 5, search::Metric::Euclidean, {}); });
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < 12; ++t) {
    EXPECT_TRUE(torch::equal(got[t].ids, alone.ids.narrow(0, 2 * t, 2))) << t;
    EXPECT_TRUE(torch::allclose(got[t].scores, alone.scores.narrow(0, 2 * t, 2))) << t;
  }
  EXPECT_EQ(batcher.requests(), 12);
  EXPECT_LT(batcher.searches(), 12);  // shared: fewer searches than requests
  EXPECT_GT(slow.largest.load(), 2);
}

TEST(SearchBatcher, DifferentSettingsNeverShareAndErrorsReachTheirRequests) {
  torch::manual_seed(4);
  SlowIndex slow;
  slow.index->add(torch::randn({100, 8}));
  SearchBatcher batcher([&](auto&&... a) { return slow(a...); });
  const at::Tensor q = torch::randn({1, 8});
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  std::vector<int64_t> widths(6);
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      if (t % 2) {  // exact search takes no nprobe: every such request fails, the others not
        try {
          batcher.search(q, 3, search::Metric::Euclidean, {{"nprobe", 4}});
        } catch (const UsageError&) {
          ++errors;
        }
      } else {
        widths[t] = batcher.search(q, 3 + t, search::Metric::Euclidean, {}).ids.size(1);
      }
    });
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(errors.load(), 3);
  EXPECT_EQ(widths[0], 3);
  EXPECT_EQ(widths[2], 5);
  EXPECT_EQ(widths[4], 7);
}

TEST(SearchBatcher, ALoneRequestRunsAtOnce) {
  SlowIndex slow;
  slow.index->add(torch::randn({10, 4}));
  SearchBatcher batcher([&](auto&&... a) { return slow(a...); });
  const auto start = std::chrono::steady_clock::now();
  batcher.search(torch::randn({1, 4}), 2, search::Metric::Euclidean, {});
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(ms, 40 + 200);  // the search's own 40 ms, and no wait for company
  EXPECT_EQ(batcher.searches(), 1);
}

}  // namespace
}  // namespace imret::serve
