#include "imret/search/top_k.hpp"

#include <ATen/Parallel.h>

#include <algorithm>

#include "imret/core/error.hpp"

namespace imret::search {
namespace {

// Orders candidates best first: higher score, then lower id.
bool better(const std::pair<float, int64_t>& a, const std::pair<float, int64_t>& b) {
  return a.first > b.first || (a.first == b.first && a.second < b.second);
}

}  // namespace

TopKHeaps::TopKHeaps(int64_t rows, int64_t k) : rows_(rows), k_(k), heaps_(static_cast<size_t>(rows)) {
  if (rows < 0 || k < 1) throw Error("TopKHeaps: needs rows >= 0 and k >= 1");
  for (auto& heap : heaps_) heap.reserve(static_cast<size_t>(k));
}

void TopKHeaps::push(const float* scores, int64_t first_row, int64_t count, int64_t cols, int64_t stride,
                     int64_t id_offset, const float* column_bias) {
  if (first_row < 0 || first_row + count > rows_) throw Error("TopKHeaps::push: rows out of range");
  auto value_at = [&](const float* row, int64_t c) { return column_bias ? row[c] - column_bias[c] : row[c]; };
  at::parallel_for(0, count, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      auto& heap = heaps_[static_cast<size_t>(first_row + r)];
      const float* row = scores + r * stride;
      // With `better` as the heap order, heap.front() is the worst kept candidate.
      int64_t c = 0;
      for (; c < cols && static_cast<int64_t>(heap.size()) < k_; ++c) {
        const float value = value_at(row, c);
        if (value != value) continue;  // NaN
        heap.emplace_back(value, id_offset + c);
        std::push_heap(heap.begin(), heap.end(), better);
      }
      float worst = heap.empty() ? 0.0f : heap.front().first;
      for (; c < cols; ++c) {
        const float value = value_at(row, c);
        if (!(value >= worst)) continue;  // also drops NaN
        const std::pair<float, int64_t> candidate(value, id_offset + c);
        if (!better(candidate, heap.front())) continue;
        std::pop_heap(heap.begin(), heap.end(), better);
        heap.back() = candidate;
        std::push_heap(heap.begin(), heap.end(), better);
        worst = heap.front().first;
      }
    }
  });
}

std::vector<std::pair<float, int64_t>> TopKHeaps::sorted(int64_t row) const {
  std::vector<std::pair<float, int64_t>> result = heaps_.at(static_cast<size_t>(row));
  std::sort(result.begin(), result.end(), better);
  return result;
}

}  // namespace imret::search
