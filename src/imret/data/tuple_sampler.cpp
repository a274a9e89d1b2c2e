#include "imret/data/tuple_sampler.hpp"

#include <algorithm>
#include <map>

#include "imret/core/error.hpp"
#include "imret/core/internal_error.hpp"
#include "imret/data/random.hpp"

namespace imret::data {

std::vector<std::vector<int64_t>> offline_tuples(const std::vector<int64_t>& labels, TupleKind kind, uint64_t seed) {
  std::map<int64_t, std::vector<int64_t>> members;
  for (size_t i = 0; i < labels.size(); ++i) members[labels[i]].push_back(static_cast<int64_t>(i));
  bool any_pair = false;
  for (const auto& [label, items] : members) any_pair = any_pair || items.size() >= 2;
  if (members.size() < 2 || !any_pair)
    throw Error("offline tuples need two classes and a class with two items (got " +
                std::to_string(members.size()) + " classes)");
  std::mt19937_64 rng(derive_seed(seed, 0x7475706c));
  auto draw_positive = [&](int64_t anchor) {
    const auto& same = members.at(labels[static_cast<size_t>(anchor)]);
    // A uniform item of the class other than the anchor.
    int64_t pick = same[static_cast<size_t>(uniform_below(rng, same.size() - 1))];
    return pick == anchor ? same.back() : pick;
  };
  auto draw_negative = [&](int64_t anchor) {
    const int64_t own = labels[static_cast<size_t>(anchor)];
    const uint64_t others = labels.size() - members.at(own).size();
    // The k-th item, in index order, of the items of other classes.
    uint64_t k = uniform_below(rng, others);
    for (const auto& [label, items] : members) {
      if (label == own) continue;
      if (k < items.size()) return items[static_cast<size_t>(k)];
      k -= items.size();
    }
    throw InternalError("offline tuples: no negative at the drawn position");
  };
  std::vector<int64_t> anchors(labels.size());
  for (size_t i = 0; i < anchors.size(); ++i) anchors[i] = static_cast<int64_t>(i);
  shuffle_portable(anchors, rng);
  std::vector<std::vector<int64_t>> tuples;
  tuples.reserve(anchors.size());
  bool positive_next = true;
  for (int64_t anchor : anchors) {
    const bool has_positive = members.at(labels[static_cast<size_t>(anchor)]).size() >= 2;
    if (kind == TupleKind::Triplet) {
      if (has_positive) tuples.push_back({anchor, draw_positive(anchor), draw_negative(anchor)});
      continue;
    }
    if (positive_next && !has_positive) continue;  // keeps the pairs half positive
    tuples.push_back({anchor, positive_next ? draw_positive(anchor) : draw_negative(anchor)});
    positive_next = !positive_next;
  }
  return tuples;
}

std::vector<std::vector<int64_t>> tuple_batches(const std::vector<std::vector<int64_t>>& tuples,
                                                int64_t tuples_per_batch) {
  if (tuples_per_batch < 1) throw Error("offline tuples: tuples_per_batch must be at least 1");
  std::vector<std::vector<int64_t>> batches;
  for (size_t start = 0; start < tuples.size(); start += static_cast<size_t>(tuples_per_batch)) {
    std::vector<int64_t> batch;
    const size_t end = std::min(tuples.size(), start + static_cast<size_t>(tuples_per_batch));
    for (size_t t = start; t < end; ++t) batch.insert(batch.end(), tuples[t].begin(), tuples[t].end());
    batches.push_back(std::move(batch));
  }
  return batches;
}

std::optional<std::vector<std::vector<int64_t>>> tuple_rows(const std::vector<int64_t>& planned, int64_t arity,
                                                            const std::vector<int64_t>& delivered) {
  std::vector<int64_t> row_of(planned.size(), -1);
  size_t next = 0;
  for (size_t i = 0; i < planned.size() && next < delivered.size(); ++i)
    if (planned[i] == delivered[next]) row_of[i] = static_cast<int64_t>(next++);
  if (next != delivered.size()) return std::nullopt;
  std::vector<std::vector<int64_t>> rows;
  for (size_t start = 0; start + static_cast<size_t>(arity) <= planned.size(); start += static_cast<size_t>(arity)) {
    std::vector<int64_t> tuple(row_of.begin() + static_cast<std::ptrdiff_t>(start),
                               row_of.begin() + static_cast<std::ptrdiff_t>(start) + arity);
    if (std::find(tuple.begin(), tuple.end(), -1) == tuple.end()) rows.push_back(std::move(tuple));
  }
  return rows;
}

}  // namespace imret::data
