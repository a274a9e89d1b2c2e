#pragma once
// Running top-k selection on the CPU: one bounded heap per query row, fed
// block after block of scores (higher = better), read out sorted. Used by the
// exact index: a scan that rejects most scores with one comparison is faster
// than torch::topk on wide rows, and needs no merging between blocks.
#include <cstdint>
#include <utility>
#include <vector>

namespace imret::search {

class TopKHeaps {
 public:
  TopKHeaps(int64_t rows, int64_t k);
  // Offers `cols` scores of each of rows [first_row, first_row + count) (row
  // r's scores at scores[(r - first_row) * stride ...]), with ids id_offset,
  // id_offset + 1, ... minus column_bias[c] when given (cols values). Rows
  // run in parallel (at::parallel_for). Equal scores keep the lower id. NaN
  // scores are never kept.
  void push(const float* scores, int64_t first_row, int64_t count, int64_t cols, int64_t stride, int64_t id_offset,
            const float* column_bias = nullptr);
  // Row r's best, best first: up to k (score, id) pairs.
  std::vector<std::pair<float, int64_t>> sorted(int64_t row) const;
  int64_t rows() const { return rows_; }
  int64_t k() const { return k_; }

 private:
  int64_t rows_, k_;
  std::vector<std::vector<std::pair<float, int64_t>>> heaps_;  // min-heaps on (score, -id)
};

}  // namespace imret::search
