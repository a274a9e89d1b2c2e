#pragma once
// An index in shards, searched as one (FAISS's IndexShards with successive
// ids): shard s holds the contiguous ids [offset_s, offset_s + size_s). A
// search runs on every shard at once (a thread each) and merges their top-k
// per query: the better score first, the lower id first among equal scores
// (each shard keeps that order, and the shards' id ranges ascend). Exact
// shards give the unsharded exact result; FAISS shards give what FAISS's
// IndexShards gives over the same split.
//
// Saved as one file per shard beside the index file: shard_file(file, s).
// Index folders record the shards' sizes (IndexManifest::shards).
#include <filesystem>
#include <memory>
#include <vector>

#include "imret/search/index.hpp"

namespace imret::search {

class ShardedIndex : public Index {
 public:
  // `shards`: empty indexes of one spec and metric (make_index), or loaded ones.
  explicit ShardedIndex(std::vector<std::unique_ptr<Index>> shards);

  bool needs_training() const override;
  // Every shard learns from the same sample (their centroids and codebooks agree).
  void train(const at::Tensor& sample) override;
  int64_t min_training_points() const override;
  int64_t trained_on() const override;
  // The first add into an empty index splits the rows into contiguous parts
  // of near-equal size, one per shard; later adds go to the last shard.
  void add(const at::Tensor& embeddings) override;
  SearchResult search(const at::Tensor& queries, int64_t k, const SearchParams& params = {}) const override;
  RangeResult range_search(const at::Tensor& queries, double radius, const SearchParams& params = {}) const override;
  int64_t size() const override;
  int64_t dim() const override;
  Metric metric() const override;
  std::string describe() const override;
  std::string spec() const override;  // the shards' spec
  void set_parameter(const std::string& name, double value) override;
  std::vector<std::pair<std::string, double>> parameters() const override;
  at::Tensor vector(int64_t id) const override;
  void copy_vector(int64_t id, float* out) const override;
  bool can_remove() const override;
  void remove_ids(const std::vector<int64_t>& ids) override;
  int64_t memory_bytes() const override;
  // Each shard into shard_file(file, s).
  void save(const std::filesystem::path& file) const override;

  int64_t shard_count() const { return static_cast<int64_t>(shards_.size()); }
  std::vector<int64_t> shard_sizes() const;

 private:
  // The shard that holds `id`, and the id there.
  std::pair<size_t, int64_t> locate(int64_t id) const;
  std::vector<int64_t> offsets() const;
  // search(shard) on every shard that holds vectors, in parallel (a thread
  // each); a default Result for the empty ones.
  template <typename Result, typename F>
  std::vector<Result> on_shards_with_items(F&& search) const;

  std::vector<std::unique_ptr<Index>> shards_;
};

// "DIR/index.faiss", 2 -> "DIR/shard2.index.faiss".
std::filesystem::path shard_file(const std::filesystem::path& file, int64_t shard);

// `shards` empty indexes of `spec` (make_index) as one ShardedIndex.
// UsageError for fewer than 1 shard.
std::unique_ptr<ShardedIndex> make_sharded_index(const std::string& spec, c10::Device device, Metric metric,
                                                 int64_t shards);

// The shards saved by ShardedIndex::save(file), `shard_sizes.size()` of
// them. imret::Error naming the shard's file when one is missing, unreadable
// or holds another number of vectors than `shard_sizes` says.
std::unique_ptr<ShardedIndex> load_sharded_index(const std::string& spec, Metric metric,
                                                 const std::filesystem::path& file,
                                                 const std::vector<int64_t>& shard_sizes, c10::Device device);

}  // namespace imret::search
