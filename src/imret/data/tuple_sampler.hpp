#pragma once
// Offline tuples for metric learning: a siamese dataset of pairs and a
// triplet dataset, drawn before training instead of mined from a batch.
//
// - Pairs: one per anchor item, in a shuffled order; alternately positive
//   (a partner of the anchor's class, not the anchor itself) and negative (a
//   partner of another class), so that half of the pairs are positive.
// - Triplets: one (anchor, positive, negative) per anchor item.
// Anchors whose class has a single item cannot have a positive: they are left
// out of positive pairs and triplets. The tuples depend only on (labels,
// kind, seed): the same on every platform; a new seed per epoch draws new
// tuples, a fixed seed gives fixed (e.g. validation) tuples.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace imret::data {

enum class TupleKind { Pair, Triplet };

// Throws imret::Error when the labels have fewer than two classes, or no class
// with two items.
std::vector<std::vector<int64_t>> offline_tuples(const std::vector<int64_t>& labels, TupleKind kind, uint64_t seed);

// Consecutive tuples grouped into batches of `tuples_per_batch`, each batch
// flattened (tuple after tuple) into one list of dataset indices; the last
// batch may be smaller.
std::vector<std::vector<int64_t>> tuple_batches(const std::vector<std::vector<int64_t>>& tuples,
                                                int64_t tuples_per_batch);

// Where each planned tuple of a batch landed: `delivered` is the batch's
// dataset indices as the loader gave them (in order, bad images left out),
// `planned` the batch as asked for (tuples of `arity` items, flattened).
// Returns, per tuple whose items were all delivered, the row of each item;
// tuples with a missing item are left out. Returns nullopt when `delivered`
// is not the planned batch (not an in-order subsequence of it).
std::optional<std::vector<std::vector<int64_t>>> tuple_rows(const std::vector<int64_t>& planned, int64_t arity,
                                                            const std::vector<int64_t>& delivered);

}  // namespace imret::data
