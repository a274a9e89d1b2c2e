#include "imret/search/exact_index.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <sstream>

#include "imret/core/error.hpp"
#include "imret/core/internal_error.hpp"
#include "imret/core/npy.hpp"
#include "imret/search/top_k.hpp"

namespace imret::search {

namespace {

constexpr int64_t kMaxBlockElements = int64_t{1} << 26;  // ~256 MB of float32 per similarity block

struct TopK {
  at::Tensor values;  // B x k, higher = more similar
  at::Tensor ids;     // B x k int64
};

// Keeps the best k of the running top-k and a new candidate block.
TopK merge(const TopK& best, const TopK& candidates, int64_t k) {
  if (!best.values.defined()) return candidates;
  at::Tensor values = torch::cat({best.values, candidates.values}, 1);
  at::Tensor ids = torch::cat({best.ids, candidates.ids}, 1);
  auto [top_values, positions] = values.topk(std::min<int64_t>(k, values.size(1)), 1, true, true);
  return {top_values, ids.gather(1, positions)};
}

}  // namespace

ExactIndex::ExactIndex(Metric metric, c10::Device device, int64_t block_size, int64_t join_below)
    : metric_(metric), device_(device), block_size_(block_size), join_below_(join_below) {
  if (block_size_ < 1) throw Error("ExactIndex: block_size must be >= 1 (got " + std::to_string(block_size) + ")");
}

void ExactIndex::add(const at::Tensor& embeddings) {
  check_embeddings(embeddings, "ExactIndex::add");
  const int64_t d = embeddings.size(1);
  if (dim_ != 0 && d != dim_)
    throw Error("ExactIndex::add: embeddings have " + std::to_string(d) + " dimensions, the index " +
                std::to_string(dim_));
  if (embeddings.size(0) == 0) return;
  PreparedDatabase added = prepare_database(embeddings, metric_, device_);
  if (!chunks_.empty() && chunks_.back().size() + added.size() <= join_below_) {
    PreparedDatabase& last = chunks_.back();
    last.vectors = torch::cat({last.vectors, added.vectors});
    if (last.squared_norms.defined()) last.squared_norms = torch::cat({last.squared_norms, added.squared_norms});
  } else {
    chunks_.push_back(std::move(added));
  }
  dim_ = d;
  size_ += embeddings.size(0);
}

SearchResult ExactIndex::search(const at::Tensor& queries, int64_t k, const SearchParams& params) const {
  check_search_params(spec(), params, {});
  check_embeddings(queries, "ExactIndex::search: queries");
  if (size_ == 0) throw Error("ExactIndex::search: the index is empty; add embeddings before searching");
  if (k <= 0) throw Error("ExactIndex::search: k must be >= 1 (got " + std::to_string(k) + ")");
  if (queries.size(1) != dim_)
    throw Error("ExactIndex::search: queries have " + std::to_string(queries.size(1)) + " dimensions, the index " +
                std::to_string(dim_));
  const int64_t num_queries = queries.size(0);
  const int64_t k_found = std::min(k, size_);
  const bool euclidean = metric_ == Metric::Euclidean;
  const float pad = euclidean ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
  SearchResult result;
  result.metric = metric_;
  result.ids = torch::full({num_queries, k}, -1, torch::kInt64);
  result.scores = torch::full({num_queries, k}, pad, torch::kFloat32);

  const at::Tensor all_queries = queries.to(device_, torch::kFloat32).contiguous();
  // Euclidean: rank by q.d - |d|^2 / 2, then distances for the k kept.
  const at::Tensor query_norms = euclidean ? all_queries.pow(2).sum(1).to(torch::kCPU).contiguous() : at::Tensor();
  auto scores = result.scores.accessor<float, 2>();
  auto ids = result.ids.accessor<int64_t, 2>();
  auto store = [&](int64_t q, int64_t r, float value, int64_t id) {
    scores[q][r] = euclidean ? distance_from_ranking(value, query_norms.data_ptr<float>()[q]) : value;
    ids[q][r] = id;
  };
  if (device_.is_cpu()) {
    // The scores of up to 256 queries against 65536 items a block, scanned
    // into each query's top-k heap (measured on 60k x 64 embeddings: smaller
    // blocks lose more to the per-call costs than they gain in cache).
    const int64_t query_block = std::min<int64_t>(block_size_, 256);
    constexpr int64_t kDatabaseBlock = 65536;
    at::Tensor buffer = torch::empty({query_block * kDatabaseBlock}, torch::kFloat32);  // reused: no page faults
    for (int64_t q0 = 0; q0 < num_queries; q0 += query_block) {
      const int64_t rows = std::min(query_block, num_queries - q0);
      at::Tensor block = all_queries.narrow(0, q0, rows);
      if (!euclidean) block = unit_rows(block);
      TopKHeaps heaps(rows, k_found);
      int64_t offset = 0;
      for (const PreparedDatabase& chunk : chunks_) {
        for (int64_t start = 0; start < chunk.size(); start += kDatabaseBlock) {
          const int64_t length = std::min(kDatabaseBlock, chunk.size() - start);
          const PreparedDatabase part = chunk.slice(start, length);
          // q.d, then (Euclidean) minus |d|^2 / 2 inside the scan.
          at::Tensor products = buffer.narrow(0, 0, rows * length).view({rows, length});
          at::mm_out(products, block, part.vectors.t());
          const at::Tensor bias = euclidean ? (part.squared_norms * 0.5f).contiguous() : at::Tensor();
          heaps.push(products.data_ptr<float>(), 0, rows, length, length, offset + start,
                     euclidean ? bias.data_ptr<float>() : nullptr);
        }
        offset += chunk.size();
      }
      for (int64_t r = 0; r < rows; ++r) {
        const auto best = heaps.sorted(r);
        for (size_t j = 0; j < best.size(); ++j) store(q0 + r, static_cast<int64_t>(j), best[j].first, best[j].second);
      }
    }
    return result;
  }
  for (int64_t q0 = 0; q0 < num_queries; q0 += block_size_) {
    const int64_t rows = std::min(block_size_, num_queries - q0);
    const at::Tensor block = all_queries.narrow(0, q0, rows);
    const int64_t piece = std::max<int64_t>(1, kMaxBlockElements / rows);
    TopK best;
    int64_t offset = 0;
    for (const PreparedDatabase& chunk : chunks_) {
      for (int64_t start = 0; start < chunk.size(); start += piece) {
        const int64_t length = std::min(piece, chunk.size() - start);
        const at::Tensor ranking = ranking_block(block, chunk.slice(start, length));
        auto [values, positions] = ranking.topk(std::min(k_found, length), 1, true, true);
        best = merge(best, {values, positions + (offset + start)}, k_found);
      }
      offset += chunk.size();
    }
    const at::Tensor values = best.values.to(torch::kCPU).contiguous();
    const at::Tensor best_ids = best.ids.to(torch::kCPU).contiguous();
    auto v = values.accessor<float, 2>();
    auto i = best_ids.accessor<int64_t, 2>();
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < values.size(1); ++j) store(q0 + r, j, v[r][j], i[r][j]);
  }
  return result;
}

std::unique_ptr<ExactIndex> ExactIndex::load(Metric metric, const std::filesystem::path& file, c10::Device device) {
  FloatMatrix matrix = load_npy(file);
  auto index = std::make_unique<ExactIndex>(metric, device);
  index->add(torch::from_blob(matrix.values.data(), {matrix.rows, matrix.cols}, torch::kFloat32).clone());
  if (matrix.rows == 0) index->dim_ = matrix.cols;
  return index;
}

RangeResult ExactIndex::range_search(const at::Tensor& queries, double radius, const SearchParams& params) const {
  check_search_params(spec(), params, {});
  check_embeddings(queries, "ExactIndex::range_search: queries");
  if (size_ == 0) throw Error("ExactIndex::range_search: the index is empty; add embeddings before searching");
  if (queries.size(1) != dim_)
    throw Error("ExactIndex::range_search: queries have " + std::to_string(queries.size(1)) + " dimensions, the index " +
                std::to_string(dim_));
  const bool euclidean = metric_ == Metric::Euclidean;
  if (euclidean && radius <= 0) throw Error("ExactIndex::range_search: the radius of a Euclidean search must be > 0");
  // Similarities above the threshold: -distance > -radius, or cosine > radius.
  const double threshold = euclidean ? -radius : radius;
  const int64_t num_queries = queries.size(0);
  std::vector<at::Tensor> ids, scores;
  std::vector<int64_t> lims{0};
  const at::Tensor all_queries = queries.to(device_, torch::kFloat32);
  for (int64_t q0 = 0; q0 < num_queries; q0 += block_size_) {
    const int64_t rows = std::min(block_size_, num_queries - q0);
    std::vector<at::Tensor> sims;
    for (const PreparedDatabase& chunk : chunks_) sims.push_back(similarity_block(all_queries.narrow(0, q0, rows), chunk));
    const at::Tensor sim = torch::cat(sims, 1).to(torch::kCPU);
    for (int64_t r = 0; r < rows; ++r) {
      const at::Tensor row = sim[r];
      const at::Tensor hits = row.gt(threshold).nonzero().flatten();
      auto [sorted, order] = row.index_select(0, hits).sort(/*stable=*/true, /*dim=*/0, /*descending=*/true);
      ids.push_back(hits.index_select(0, order));
      scores.push_back(euclidean ? sorted.neg() : sorted);
      lims.push_back(lims.back() + hits.size(0));
    }
  }
  RangeResult result;
  result.metric = metric_;
  result.lims = torch::tensor(lims, torch::kInt64);
  result.ids = ids.empty() ? torch::empty({0}, torch::kInt64) : torch::cat(ids);
  result.scores = scores.empty() ? torch::empty({0}, torch::kFloat32) : torch::cat(scores).to(torch::kFloat32);
  return result;
}

at::Tensor ExactIndex::vector(int64_t id) const {
  if (id < 0 || id >= size_)
    throw Error("item " + std::to_string(id) + " is not in the index (ids 0.." + std::to_string(size_ - 1) + ")");
  for (const PreparedDatabase& chunk : chunks_) {
    if (id < chunk.size()) return chunk.vectors.narrow(0, id, 1).to(torch::kCPU).clone();
    id -= chunk.size();
  }
  throw InternalError("ExactIndex: the chunks hold fewer vectors than size()");
}

void ExactIndex::copy_vector(int64_t id, float* out) const {
  if (device_.type() != c10::kCPU) return Index::copy_vector(id, out);
  if (id < 0 || id >= size_)
    throw Error("item " + std::to_string(id) + " is not in the index (ids 0.." + std::to_string(size_ - 1) + ")");
  for (const PreparedDatabase& chunk : chunks_) {
    if (id < chunk.size()) {
      const float* source = chunk.vectors.data_ptr<float>() + id * dim_;
      std::copy(source, source + dim_, out);
      return;
    }
    id -= chunk.size();
  }
  throw InternalError("ExactIndex: the chunks hold fewer vectors than size()");
}

void ExactIndex::remove_ids(const std::vector<int64_t>& ids) {
  const std::vector<int64_t> removed = ids_to_remove(ids, size_);
  if (removed.empty()) return;
  std::vector<PreparedDatabase> kept;
  int64_t start = 0;
  auto next = removed.begin();
  for (const PreparedDatabase& chunk : chunks_) {
    const int64_t end = start + chunk.size();
    std::vector<int64_t> rows;
    for (int64_t id = start; id < end; ++id) {
      if (next != removed.end() && *next == id) ++next;
      else rows.push_back(id - start);
    }
    if (rows.size() == static_cast<size_t>(chunk.size())) {
      kept.push_back(chunk);
    } else if (!rows.empty()) {
      const at::Tensor index = torch::tensor(rows, torch::kInt64).to(chunk.vectors.device());
      PreparedDatabase part;
      part.metric = chunk.metric;
      part.vectors = chunk.vectors.index_select(0, index).contiguous();
      if (chunk.squared_norms.defined()) part.squared_norms = chunk.squared_norms.index_select(0, index).contiguous();
      kept.push_back(std::move(part));
    }
    start = end;
  }
  chunks_ = std::move(kept);
  size_ -= static_cast<int64_t>(removed.size());
}

int64_t ExactIndex::memory_bytes() const {
  int64_t bytes = 0;
  for (const PreparedDatabase& chunk : chunks_) {
    bytes += chunk.vectors.numel() * static_cast<int64_t>(sizeof(float));
    if (chunk.squared_norms.defined()) bytes += chunk.squared_norms.numel() * static_cast<int64_t>(sizeof(float));
  }
  return bytes;
}

void ExactIndex::save(const std::filesystem::path& file) const {
  std::vector<at::Tensor> parts;
  for (const PreparedDatabase& chunk : chunks_) parts.push_back(chunk.vectors.to(torch::kCPU));
  const at::Tensor all = parts.empty() ? torch::empty({0, dim_}, torch::kFloat32) : torch::cat(parts).contiguous();
  save_npy(file, all.data_ptr<float>(), all.size(0), all.size(1));
}

std::string ExactIndex::spec() const { return metric_ == Metric::Cosine ? "exact:cosine" : "exact:l2"; }

std::string ExactIndex::describe() const {
  std::ostringstream out;
  out << "exact:" << (metric_ == Metric::Cosine ? "cosine" : "l2") << " (" << size_ << " vectors, dim " << dim_ << ", "
      << device_.str() << ")";
  return out.str();
}

}  // namespace imret::search
