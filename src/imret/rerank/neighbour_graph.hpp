#pragma once
// The k nearest other items of every database item, found with the index
// itself (so it works for any backend and is as exact as its search).
#include <cstdint>
#include <vector>

#include "imret/search/index.hpp"

namespace imret::rerank {

struct NeighbourGraph {
  int64_t items = 0, k = 0;
  std::vector<int64_t> ids;     // items x k, row i best first; -1 where fewer than k others exist
  std::vector<float> cosines;   // items x k: cosine similarity of the vectors as the index stores them
  const int64_t* row(int64_t i) const { return ids.data() + i * k; }
  const float* cosine_row(int64_t i) const { return cosines.data() + i * k; }
};

// Searches every stored vector of `index` for its k + 1 nearest and drops
// itself (or, for duplicates that push it out, the last). Shows a Progress
// "neighbour graph". Error when the index is empty or cannot give vectors back.
NeighbourGraph neighbour_graph(const search::Index& index, int64_t k);

}  // namespace imret::rerank
