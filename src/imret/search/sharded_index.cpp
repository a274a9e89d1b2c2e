#include "imret/search/sharded_index.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <exception>
#include <thread>

#include "imret/core/error.hpp"

namespace imret::search {
namespace fs = std::filesystem;

namespace {

// Runs f(s) for every shard, each on a thread of its own; rethrows the first error.
template <typename F>
void on_every_shard(size_t shards, F&& f) {
  if (shards == 1) return f(0);
  std::vector<std::exception_ptr> errors(shards);
  std::vector<std::thread> threads;
  for (size_t s = 0; s < shards; ++s)
    threads.emplace_back([&, s] {
      try {
        f(s);
      } catch (...) {
        errors[s] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// (score, global id) pairs, best first: the shards' lists in shard order hold
// the lower ids first, and a stable sort keeps the lower id first among equal scores.
void sort_hits(std::vector<std::pair<float, int64_t>>& hits, Metric metric) {
  std::stable_sort(hits.begin(), hits.end(), [metric](const auto& a, const auto& b) {
    return metric == Metric::Cosine ? a.first > b.first : a.first < b.first;
  });
}

}  // namespace

ShardedIndex::ShardedIndex(std::vector<std::unique_ptr<Index>> shards) : shards_(std::move(shards)) {
  if (shards_.empty()) throw UsageError("a sharded index needs at least one shard");
}

bool ShardedIndex::needs_training() const { return shards_.front()->needs_training(); }

// One shard after the other: FAISS's training is parallel inside, and it
// sets BLAS's (process-wide) thread count while it runs.
void ShardedIndex::train(const at::Tensor& sample) {
  for (auto& shard : shards_) shard->train(sample);
}

int64_t ShardedIndex::min_training_points() const { return shards_.front()->min_training_points(); }
int64_t ShardedIndex::trained_on() const { return shards_.front()->trained_on(); }

void ShardedIndex::add(const at::Tensor& embeddings) {
  if (size() > 0) return shards_.back()->add(embeddings);
  const int64_t n = embeddings.size(0), count = shard_count();
  if (n < count)
    throw UsageError(std::to_string(count) + " shards for " + std::to_string(n) +
                     " vectors: every shard needs at least one");
  for (int64_t s = 0; s < count; ++s) {
    const int64_t begin = n * s / count, end = n * (s + 1) / count;
    if (end > begin) shards_[static_cast<size_t>(s)]->add(embeddings.narrow(0, begin, end - begin));
  }
}

std::vector<int64_t> ShardedIndex::shard_sizes() const {
  std::vector<int64_t> sizes;
  for (const auto& shard : shards_) sizes.push_back(shard->size());
  return sizes;
}

std::vector<int64_t> ShardedIndex::offsets() const {
  std::vector<int64_t> out;
  int64_t offset = 0;
  for (const auto& shard : shards_) {
    out.push_back(offset);
    offset += shard->size();
  }
  return out;
}

template <typename Result, typename F>
std::vector<Result> ShardedIndex::on_shards_with_items(F&& search) const {
  std::vector<Result> parts(shards_.size());
  on_every_shard(shards_.size(), [&](size_t s) {
    if (shards_[s]->size() > 0) parts[s] = search(*shards_[s]);
  });
  return parts;
}

SearchResult ShardedIndex::search(const at::Tensor& queries, int64_t k, const SearchParams& params) const {
  if (size() == 0) throw Error("search in an empty index");
  const auto parts =
      on_shards_with_items<SearchResult>([&](const Index& shard) { return shard.search(queries, k, params); });
  const Metric m = metric();
  const std::vector<int64_t> offset = offsets();
  const int64_t q = queries.size(0);
  SearchResult out;
  out.metric = m;
  out.ids = torch::full({q, k}, -1, torch::kLong);
  out.scores = torch::full({q, k}, m == Metric::Cosine ? -INFINITY : INFINITY, torch::kFloat);
  auto ids_out = out.ids.accessor<int64_t, 2>();
  auto scores_out = out.scores.accessor<float, 2>();
  std::vector<std::pair<float, int64_t>> candidates;
  for (int64_t row = 0; row < q; ++row) {
    candidates.clear();
    for (size_t s = 0; s < parts.size(); ++s) {
      if (!parts[s].ids.defined()) continue;
      auto ids = parts[s].ids.accessor<int64_t, 2>();
      auto scores = parts[s].scores.accessor<float, 2>();
      for (int64_t j = 0; j < parts[s].ids.size(1); ++j)
        if (ids[row][j] >= 0) candidates.emplace_back(scores[row][j], ids[row][j] + offset[s]);
    }
    sort_hits(candidates, m);
    for (int64_t j = 0; j < std::min<int64_t>(k, static_cast<int64_t>(candidates.size())); ++j) {
      scores_out[row][j] = candidates[static_cast<size_t>(j)].first;
      ids_out[row][j] = candidates[static_cast<size_t>(j)].second;
    }
  }
  return out;
}

RangeResult ShardedIndex::range_search(const at::Tensor& queries, double radius, const SearchParams& params) const {
  const auto parts = on_shards_with_items<RangeResult>(
      [&](const Index& shard) { return shard.range_search(queries, radius, params); });
  const Metric m = metric();
  const std::vector<int64_t> offset = offsets();
  const int64_t q = queries.size(0);
  std::vector<int64_t> lims = {0}, ids;
  std::vector<float> scores;
  std::vector<std::pair<float, int64_t>> hits;
  for (int64_t row = 0; row < q; ++row) {
    hits.clear();
    for (size_t s = 0; s < parts.size(); ++s) {
      if (!parts[s].lims.defined()) continue;
      const int64_t* l = parts[s].lims.data_ptr<int64_t>();
      const int64_t* part_ids = parts[s].ids.data_ptr<int64_t>();
      const float* part_scores = parts[s].scores.data_ptr<float>();
      for (int64_t j = l[row]; j < l[row + 1]; ++j) hits.emplace_back(part_scores[j], part_ids[j] + offset[s]);
    }
    sort_hits(hits, m);
    for (const auto& [score, id] : hits) {
      scores.push_back(score);
      ids.push_back(id);
    }
    lims.push_back(static_cast<int64_t>(ids.size()));
  }
  RangeResult out;
  out.metric = m;
  out.lims = torch::tensor(lims, torch::kLong);
  out.ids = torch::tensor(ids, torch::kLong);
  out.scores = torch::tensor(scores, torch::kFloat);
  return out;
}

int64_t ShardedIndex::size() const {
  int64_t n = 0;
  for (const auto& shard : shards_) n += shard->size();
  return n;
}

// The first shard with vectors (removals may empty a shard).
int64_t ShardedIndex::dim() const {
  for (const auto& shard : shards_)
    if (shard->dim() > 0) return shard->dim();
  return 0;
}
Metric ShardedIndex::metric() const { return shards_.front()->metric(); }
std::string ShardedIndex::spec() const { return shards_.front()->spec(); }

// "3 shards of 21-22 vectors, each exact:l2 (21 vectors, dim 64, cpu)": the first shard's line.
std::string ShardedIndex::describe() const {
  const std::vector<int64_t> sizes = shard_sizes();
  const auto [least, most] = std::minmax_element(sizes.begin(), sizes.end());
  const std::string range =
      *least == *most ? std::to_string(*least) : std::to_string(*least) + "-" + std::to_string(*most);
  return std::to_string(shards_.size()) + " shards of " + range + " vectors, each " + shards_.front()->describe();
}

void ShardedIndex::set_parameter(const std::string& name, double value) {
  for (auto& shard : shards_) shard->set_parameter(name, value);
}

std::vector<std::pair<std::string, double>> ShardedIndex::parameters() const { return shards_.front()->parameters(); }

std::pair<size_t, int64_t> ShardedIndex::locate(int64_t id) const {
  int64_t offset = 0;
  for (size_t s = 0; s < shards_.size(); ++s) {
    if (id >= offset && id < offset + shards_[s]->size()) return {s, id - offset};
    offset += shards_[s]->size();
  }
  throw Error("item " + std::to_string(id) + " is not in the index (0.." + std::to_string(size() - 1) + ")");
}

at::Tensor ShardedIndex::vector(int64_t id) const {
  const auto [shard, local] = locate(id);
  return shards_[shard]->vector(local);
}

void ShardedIndex::copy_vector(int64_t id, float* out) const {
  const auto [shard, local] = locate(id);
  shards_[shard]->copy_vector(local, out);
}

bool ShardedIndex::can_remove() const {
  return std::all_of(shards_.begin(), shards_.end(), [](const auto& s) { return s->can_remove(); });
}

void ShardedIndex::remove_ids(const std::vector<int64_t>& ids) {
  if (!can_remove()) return shards_.front()->remove_ids(ids);  // its UsageError names the backends that can
  std::vector<std::vector<int64_t>> local(shards_.size());
  for (int64_t id : ids_to_remove(ids, size())) {
    const auto [shard, at] = locate(id);
    local[shard].push_back(at);
  }
  for (size_t s = 0; s < shards_.size(); ++s)
    if (!local[s].empty()) shards_[s]->remove_ids(local[s]);
}

int64_t ShardedIndex::memory_bytes() const {
  int64_t bytes = 0;
  for (const auto& shard : shards_) bytes += shard->memory_bytes();
  return bytes;
}

void ShardedIndex::save(const fs::path& file) const {
  for (size_t s = 0; s < shards_.size(); ++s) shards_[s]->save(shard_file(file, static_cast<int64_t>(s)));
}

fs::path shard_file(const fs::path& file, int64_t shard) {
  return file.parent_path() / ("shard" + std::to_string(shard) + "." + file.filename().string());
}

std::unique_ptr<ShardedIndex> make_sharded_index(const std::string& spec, c10::Device device, Metric metric,
                                                 int64_t shards) {
  if (shards < 1) throw UsageError("a sharded index needs at least one shard (got " + std::to_string(shards) + ")");
  std::vector<std::unique_ptr<Index>> parts;
  for (int64_t s = 0; s < shards; ++s) parts.push_back(make_index(spec, device, metric));
  return std::make_unique<ShardedIndex>(std::move(parts));
}

std::unique_ptr<ShardedIndex> load_sharded_index(const std::string& spec, Metric metric, const fs::path& file,
                                                 const std::vector<int64_t>& shard_sizes, c10::Device device) {
  std::vector<std::unique_ptr<Index>> parts;
  for (size_t s = 0; s < shard_sizes.size(); ++s) {
    const fs::path path = shard_file(file, static_cast<int64_t>(s));
    parts.push_back(load_index(spec, metric, path, device));
    if (parts.back()->size() != shard_sizes[s])
      throw Error(path.string() + ": the shard holds " + std::to_string(parts.back()->size()) +
                  " vectors but manifest.json says " + std::to_string(shard_sizes[s]) +
                  " (the files do not belong together)");
  }
  return std::make_unique<ShardedIndex>(std::move(parts));
}

}  // namespace imret::search
