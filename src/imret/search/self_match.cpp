#include "imret/search/self_match.hpp"

#include <torch/torch.h>

#include <limits>

#include "imret/core/error.hpp"

namespace imret::search {

SearchResult without_self(const SearchResult& result, const std::vector<int64_t>& self_ids, int64_t k) {
  const int64_t queries = result.ids.size(0);
  if (static_cast<int64_t>(self_ids.size()) != queries)
    throw Error("self-exclusion: " + std::to_string(self_ids.size()) + " own rows for " + std::to_string(queries) +
                " queries");
  const int64_t columns = std::min<int64_t>(k, result.ids.size(1));
  SearchResult kept{torch::empty({queries, columns}, torch::kLong), torch::empty({queries, columns}, torch::kFloat),
                    result.metric};
  const float padding = result.metric == Metric::Cosine ? -std::numeric_limits<float>::infinity()
                                                        : std::numeric_limits<float>::infinity();
  auto ids = result.ids.accessor<int64_t, 2>();
  auto scores = result.scores.accessor<float, 2>();
  auto kept_ids = kept.ids.accessor<int64_t, 2>();
  auto kept_scores = kept.scores.accessor<float, 2>();
  for (int64_t q = 0; q < queries; ++q) {
    int64_t out = 0;
    for (int64_t j = 0; j < result.ids.size(1) && out < columns; ++j) {
      if (self_ids[static_cast<size_t>(q)] >= 0 && ids[q][j] == self_ids[static_cast<size_t>(q)]) continue;
      kept_ids[q][out] = ids[q][j];
      kept_scores[q][out] = scores[q][j];
      ++out;
    }
    for (; out < columns; ++out) {  // the own row was dropped from a result without a spare column
      kept_ids[q][out] = -1;
      kept_scores[q][out] = padding;
    }
  }
  return kept;
}

SearchResult search_without_self(const Index& index, const at::Tensor& queries, const std::vector<int64_t>& self_ids,
                                 int64_t k) {
  if (static_cast<int64_t>(self_ids.size()) != queries.size(0))
    throw Error("self-exclusion: " + std::to_string(self_ids.size()) + " own rows for " +
                std::to_string(queries.size(0)) + " queries");
  return without_self(index.search(queries, k + 1), self_ids, k);
}

}  // namespace imret::search
