#pragma once
// Exact nearest-neighbour search in LibTorch: blocks of queries against blocks
// of the database (a matrix product each). On the CPU each block's scores are
// scanned into per-query top-k heaps (top_k.hpp); on CUDA torch::topk per
// block, merged.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "imret/search/index.hpp"
#include "imret/search/similarity.hpp"

namespace imret::search {

class ExactIndex : public Index {
 public:
  // block_size: queries per block (>= 1). On the CPU at most 256 queries
  // against 65536 database items a block; on CUDA database
  // blocks are sized so that a block holds at most about 64M floats.
  // An add() joins the last chunk while they hold `join_below` rows together.
  explicit ExactIndex(Metric metric, c10::Device device = c10::kCPU, int64_t block_size = 2048,
                      int64_t join_below = 65536);
  // Reads the vectors that save() wrote (a float32 .npy file).
  static std::unique_ptr<ExactIndex> load(Metric metric, const std::filesystem::path& file, c10::Device device);

  void add(const at::Tensor& embeddings) override;
  // Ties between equal scores come in an unspecified order (torch::topk).
  // Exact search has no parameters: any in `params` is a UsageError.
  SearchResult search(const at::Tensor& queries, int64_t k, const SearchParams& params = {}) const override;
  int64_t size() const override { return size_; }
  int64_t dim() const override { return dim_; }
  Metric metric() const override { return metric_; }
  std::string describe() const override;
  std::string spec() const override;
  RangeResult range_search(const at::Tensor& queries, double radius, const SearchParams& params = {}) const override;
  at::Tensor vector(int64_t id) const override;
  void copy_vector(int64_t id, float* out) const override;
  bool can_remove() const override { return true; }
  void remove_ids(const std::vector<int64_t>& ids) override;
  int64_t memory_bytes() const override;
  // The prepared vectors (L2-normalised for cosine) as one .npy file.
  void save(const std::filesystem::path& file) const override;

 private:
  Metric metric_;
  c10::Device device_;
  int64_t block_size_;
  int64_t join_below_;
  int64_t dim_ = 0;
  int64_t size_ = 0;
  // One per add(), but small adds join the last chunk, so that adding one
  // item at a time (a query service) does not leave thousands of tiny blocks.
  std::vector<PreparedDatabase> chunks_;
};

}  // namespace imret::search
