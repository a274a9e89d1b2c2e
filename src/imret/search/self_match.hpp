#pragma once
// Self-exclusion: when the queries are (part of) the database, each query's
// own row is its best match and means nothing. Searching k + 1 and dropping
// that row gives each query its k nearest other items; the k-NN report of
// `imret evaluate --exclude-self` and the retrieval grids both do this.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "imret/search/index.hpp"

namespace imret::search {

// `result` (Q x k' neighbours) without each query's own database row
// (`self_ids[q]`; -1: none), cut to the first k columns that remain. Queries
// whose row was not among their neighbours lose their last column instead;
// where no column is left to fill a dropped row's place, the row ends in
// padding (id -1, score +inf for distances, -inf for similarities), as an
// index pads when the database has fewer than k items.
SearchResult without_self(const SearchResult& result, const std::vector<int64_t>& self_ids, int64_t k);

// The k nearest database items of each query other than its own row:
// searches k + 1, then drops `self_ids[q]`. Error when self_ids does not have
// one id per query.
SearchResult search_without_self(const Index& index, const at::Tensor& queries, const std::vector<int64_t>& self_ids,
                                 int64_t k);

}  // namespace imret::search
