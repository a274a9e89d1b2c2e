#include "imret/rerank/neighbour_graph.hpp"

#include <torch/torch.h>

#include <algorithm>

#include "imret/core/error.hpp"
#include "imret/core/progress.hpp"
#include "imret/rerank/vectors.hpp"
#include "imret/search/similarity.hpp"

namespace imret::rerank {

namespace {
constexpr int64_t kRowsPerBlock = 1024;
}

NeighbourGraph neighbour_graph(const search::Index& index, int64_t k) {
  const int64_t n = index.size();
  if (n == 0) throw Error("re-ranking: the index is empty");
  if (k < 1) throw Error("re-ranking: a neighbour graph needs k >= 1");
  NeighbourGraph graph;
  graph.items = n;
  graph.k = k;
  graph.ids.assign(static_cast<size_t>(n * k), -1);
  graph.cosines.assign(static_cast<size_t>(n * k), 0.0f);
  const int64_t search_k = std::min(k + 1, n);
  Progress progress("neighbour graph", n, "items");
  for (int64_t first = 0; first < n; first += kRowsPerBlock) {
    const int64_t rows = std::min(kRowsPerBlock, n - first);
    const at::Tensor own = torch::arange(first, first + rows, torch::kLong);
    const at::Tensor vectors = stored_vectors(index, own);  // rows x D
    const search::SearchResult found = index.search(vectors, search_k);
    const at::Tensor ids = found.ids.contiguous();
    const int64_t* id = ids.data_ptr<int64_t>();
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t self = first + r;
      const int64_t* row = id + r * search_k;
      // Drop the item itself; when duplicates pushed it out, drop the last.
      const int64_t* self_at = std::find(row, row + search_k, self);
      int64_t out = 0;
      for (const int64_t* it = row; it != row + search_k && out < k; ++it) {
        if (it == self_at || *it < 0) continue;
        graph.ids[static_cast<size_t>(self * k + out++)] = *it;
      }
    }
    // Cosines of each item with its neighbours, from the stored vectors.
    const at::Tensor kept =
        torch::from_blob(graph.ids.data() + first * k, {rows, k}, torch::kLong);
    const at::Tensor neighbours = stored_vectors(index, kept);  // rows x k x D
    const at::Tensor cosine = torch::bmm(search::unit_rows(neighbours.reshape({rows * k, -1})).reshape(neighbours.sizes()),
                                         search::unit_rows(vectors).unsqueeze(2))
                                  .squeeze(2)
                                  .contiguous();
    std::copy(cosine.data_ptr<float>(), cosine.data_ptr<float>() + rows * k, graph.cosines.data() + first * k);
    progress.advance(rows);
  }
  progress.finish();
  return graph;
}

}  // namespace imret::rerank
