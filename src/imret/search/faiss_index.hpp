#pragma once
// FAISS indexes behind search::Index: any index_factory string (Flat,
// IVF<n>,Flat, IVF<n>,PQ<m>, HNSW<M>, OPQ<m>,IVF<n>,PQ<m>, ...), on the CPU.
// Euclidean search uses FAISS's L2 metric (imret reports the distance, FAISS
// squared ones); cosine uses the inner product on L2-normalised vectors.
// Compiled only with IMRET_WITH_FAISS; make_index/load_index are the way in.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "imret/search/index.hpp"

namespace faiss {
struct Index;
}

namespace imret::search {

class FaissIndex : public Index {
 public:
  // `factory`: the index_factory string (without "faiss:"). The FAISS index is
  // made at the first train() or add(), when the dimension is known; a string
  // FAISS does not understand (for that dimension) throws UsageError there.
  FaissIndex(std::string factory, Metric metric);
  // Reads a file that save() wrote. Throws imret::Error naming the file when it
  // is missing, truncated or not a FAISS index, or when its metric is not `metric`.
  static std::unique_ptr<FaissIndex> load(std::string factory, Metric metric, const std::filesystem::path& file);
  ~FaissIndex() override;

  bool needs_training() const override;
  void train(const at::Tensor& sample) override;
  int64_t min_training_points() const override;
  int64_t trained_on() const override { return trained_on_; }
  void add(const at::Tensor& embeddings) override;
  // `params`: see per_call_parameter_names (faiss_search.hpp) for the names
  // each kind of index takes; FAISS's structs carry them, the FAISS index is
  // not changed.
  SearchResult search(const at::Tensor& queries, int64_t k, const SearchParams& params = {}) const override;
  RangeResult range_search(const at::Tensor& queries, double radius, const SearchParams& params = {}) const override;
  int64_t size() const override;
  int64_t dim() const override;
  Metric metric() const override { return metric_; }
  std::string describe() const override;
  std::string spec() const override { return "faiss:" + factory_; }
  void set_parameter(const std::string& name, double value) override;
  std::vector<std::pair<std::string, double>> parameters() const override { return parameters_; }
  // FAISS's reconstruct (IVF indexes get a direct map the first time).
  at::Tensor vector(int64_t id) const override;
  void copy_vector(int64_t id, float* out) const override;
  // FAISS's remove_ids on indexes that keep their codes in one flat array.
  bool can_remove() const override;
  void remove_ids(const std::vector<int64_t>& ids) override;
  int64_t memory_bytes() const override;
  void save(const std::filesystem::path& file) const override;

 private:
  void create(int64_t dim);
  void apply_parameter(const std::string& name, double value);
  // float32, contiguous, on the CPU; rows L2-normalised for cosine.
  at::Tensor prepare(const at::Tensor& vectors, const char* what) const;

  std::string factory_;
  Metric metric_;
  std::unique_ptr<faiss::Index> index_;
  std::vector<std::pair<std::string, double>> parameters_;
  int64_t trained_on_ = 0;
  mutable std::once_flag direct_map_made_;  // vector()
};

}  // namespace imret::search
