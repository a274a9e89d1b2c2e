#include "imret/rerank/plan.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "imret/core/error.hpp"
#include "imret/rerank/vectors.hpp"
#include "imret/search/exact_index.hpp"

namespace imret::rerank {

namespace {

// Queries searched and re-ranked together: as many as keep a block's
// shortlist vectors (queries x depth x D) near 32M values, 64 to 4096.
int64_t queries_per_block(int64_t depth, int64_t dim) {
  const int64_t per_query = std::max<int64_t>(depth * std::max<int64_t>(dim, 1), 1);
  return std::clamp<int64_t>((int64_t{1} << 25) / per_query, 64, 4096);
}

std::string trimmed(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(" \t") - begin + 1);
}

// The best `depth` of each row of Q x N scores (higher = better) as a search
// result in `metric`'s units.
search::SearchResult shortlist_of(const at::Tensor& scores, int64_t depth, search::Metric metric) {
  auto [values, ids] = scores.topk(depth, 1, true, true);
  return {ids.contiguous(), metric == search::Metric::Euclidean ? (-values).contiguous() : values.contiguous(), metric};
}

// Each query's distance or similarity to the items `ids` (Q x k, -1 padded),
// from the stored vectors: the scores to show after a second search.
at::Tensor scores_to(const search::Index& index, const at::Tensor& queries, const at::Tensor& ids) {
  const at::Tensor q = as_indexed(queries, index.metric());
  const at::Tensor x = stored_vectors(index, ids);  // Q x k x D
  const bool cosine = index.metric() == search::Metric::Cosine;
  at::Tensor scores = cosine ? torch::bmm(x, q.unsqueeze(2)).squeeze(2) : (x - q.unsqueeze(1)).norm(2, 2);
  const float padding = cosine ? -std::numeric_limits<float>::infinity() : std::numeric_limits<float>::infinity();
  return scores.masked_fill(ids < 0, padding).contiguous();
}

}  // namespace

Plan::Plan(const std::string& text, int64_t depth) : depth_(depth) {
  if (depth < 1) throw UsageError("re-ranking depth must be at least 1 (got " + std::to_string(depth) + ")");
  const std::string all = trimmed(text);
  if (all.empty() || all == "none") return;
  size_t start = 0;
  while (start <= all.size()) {
    const size_t plus = all.find('+', start);
    const std::string one = trimmed(all.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
    if (one.empty() || one == "none") throw UsageError("re-ranking '" + all + "': an empty method between '+'");
    methods_.push_back(make_reranker(one));
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
}

std::string Plan::spec() const {
  if (methods_.empty()) return "none";
  std::string out;
  for (const auto& method : methods_) out += (out.empty() ? "" : "+") + method->spec();
  return out;
}

std::string Plan::database_spec() const {
  std::string out;
  for (const auto& method : methods_)
    if (method->augments_database()) out += (out.empty() ? "" : "+") + method->spec();
  return out;
}

at::Tensor Plan::augment_database(const at::Tensor& vectors, search::Metric metric) const {
  at::Tensor out = vectors;
  for (const auto& method : methods_)
    if (method->augments_database()) out = method->augment_database(out, metric);
  return out;
}

void Plan::prepare(const search::Index& index) {
  for (const auto& method : methods_)
    if (method->reorders()) method->prepare(index);
}

int64_t Plan::largest_count() const {
  int64_t largest = 0;
  for (const auto& method : methods_) largest = std::max(largest, method->largest_count());
  return largest;
}

bool Plan::needs_preparing() const {
  return std::any_of(methods_.begin(), methods_.end(), [](const auto& m) { return m->needs_preparing(); });
}

Plan Plan::with_depth(int64_t depth) const {
  if (depth < 1) throw UsageError("re-ranking depth must be at least 1 (got " + std::to_string(depth) + ")");
  Plan copy = *this;
  copy.depth_ = depth;
  return copy;
}

RerankedResult Plan::search(const search::Index& index, const at::Tensor& queries, int64_t k,
                            const search::SearchParams& params) const {
  if (k < 1) throw Error("search: k must be at least 1");
  if (methods_.empty()) return {index.search(queries, k, params), {}};
  const int64_t block = queries_per_block(std::max(depth_, k), index.dim());
  if (queries.size(0) > block) {  // bounded memory: shortlists of a block at a time
    std::vector<at::Tensor> ids, scores, rerank_scores;
    for (int64_t first = 0; first < queries.size(0); first += block) {
      const RerankedResult part =
          search(index, queries.narrow(0, first, std::min(block, queries.size(0) - first)), k, params);
      ids.push_back(part.result.ids);
      scores.push_back(part.result.scores);
      if (part.rerank_scores.defined()) rerank_scores.push_back(part.rerank_scores);
    }
    RerankedResult out;
    out.result = {torch::cat(ids), torch::cat(scores), index.metric()};
    if (!rerank_scores.empty()) out.rerank_scores = torch::cat(rerank_scores);
    return out;
  }
  // Each search reads what the next step needs: a query method its first
  // items, a shortlist method the whole depth, the results k.
  const bool reorders = std::any_of(methods_.begin(), methods_.end(), [](const auto& m) { return m->reorders(); });
  const int64_t final_depth = reorders ? std::max(depth_, k) : k;
  std::vector<const Reranker*> expanders;
  for (const auto& method : methods_)
    if (method->expands_queries()) expanders.push_back(method.get());
  // A query method's first search: its k, but no more than the index holds.
  const auto read_by = [&](const Reranker* expander) {
    return std::max<int64_t>(1, std::min(expander->items_read(), index.size()));
  };
  search::SearchResult shortlist =
      index.search(queries, expanders.empty() ? final_depth : read_by(expanders.front()), params);
  at::Tensor current = queries;
  for (size_t e = 0; e < expanders.size(); ++e) {
    current = expanders[e]->expand_queries(current, shortlist, index);
    shortlist = index.search(current, e + 1 < expanders.size() ? read_by(expanders[e + 1]) : final_depth, params);
  }
  const bool expanded = !expanders.empty();
  RerankedResult out;
  for (const auto& method : methods_)
    if (method->reorders()) {
      const Reordered reordered = method->reorder(current, shortlist, index);
      shortlist.ids = shortlist.ids.gather(1, reordered.positions);
      shortlist.scores = shortlist.scores.gather(1, reordered.positions);
      out.rerank_scores = reordered.scores;
    }
  const int64_t kept = std::min(k, shortlist.ids.size(1));
  out.result.metric = index.metric();
  out.result.ids = shortlist.ids.narrow(1, 0, kept).contiguous();
  out.result.scores = expanded ? scores_to(index, queries, out.result.ids) : shortlist.scores.narrow(1, 0, kept).contiguous();
  if (out.rerank_scores.defined()) out.rerank_scores = out.rerank_scores.narrow(1, 0, kept).contiguous();
  return out;
}

FullRanking::FullRanking(Plan plan, const at::Tensor& database, search::Metric metric, c10::Device device)
    : plan_(std::move(plan)) {
  const at::Tensor augmented = plan_.augment_database(database, metric);
  prepared_ = search::prepare_database(augmented, metric, device);
  auto index = std::make_unique<search::ExactIndex>(metric);
  index->add(augmented);
  index_ = std::move(index);
  plan_.prepare(*index_);
}

at::Tensor FullRanking::scores(const at::Tensor& queries) const {
  const search::Metric metric = prepared_.metric;
  const int64_t depth = std::min(plan_.depth(), prepared_.size());
  at::Tensor scores = search::similarity_block(queries, prepared_).to(torch::kCPU).contiguous();
  if (plan_.empty()) return scores;
  // The same steps as Plan::search, on whole rows.
  at::Tensor current = queries;
  search::SearchResult shortlist;
  for (const auto& method : plan_.methods())
    if (method->expands_queries()) {
      // As Plan::search: the method reads its first k, whatever the depth.
      shortlist = shortlist_of(scores, std::min(method->items_read(), prepared_.size()), metric);
      current = method->expand_queries(current, shortlist, *index_);
      scores = search::similarity_block(current, prepared_).to(torch::kCPU).contiguous();
    }
  const bool reorders =
      std::any_of(plan_.methods().begin(), plan_.methods().end(), [](const auto& m) { return m->reorders(); });
  if (!reorders) return scores;
  shortlist = shortlist_of(scores, depth, metric);
  for (const auto& method : plan_.methods())
    if (method->reorders()) {
      const at::Tensor positions = method->reorder(current, shortlist, *index_).positions;
      shortlist.ids = shortlist.ids.gather(1, positions);
      shortlist.scores = shortlist.scores.gather(1, positions);
    }
  // The re-ranked shortlist on top of every other item, in its new order.
  const at::Tensor ids = shortlist.ids.contiguous();
  const int64_t rows = ids.size(0), n = scores.size(1);
  float* s = scores.data_ptr<float>();
  const int64_t* id = ids.data_ptr<int64_t>();
  for (int64_t i = 0; i < rows; ++i) {
    float* row = s + i * n;
    float top = -std::numeric_limits<float>::infinity();
    for (int64_t r = 0; r < depth; ++r)
      if (id[i * depth + r] >= 0) top = std::max(top, row[id[i * depth + r]]);
    if (!std::isfinite(top)) continue;
    const float step = std::max(1.0f, std::fabs(top));
    for (int64_t r = 0; r < depth; ++r)
      if (id[i * depth + r] >= 0) row[id[i * depth + r]] = top + static_cast<float>(depth - r) * step;
  }
  return scores;
}

}  // namespace imret::rerank
