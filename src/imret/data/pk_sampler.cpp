#include "imret/data/pk_sampler.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <string>

#include "imret/core/error.hpp"
#include "imret/data/random.hpp"

namespace imret::data {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A class's items as an endless stream of shuffled passes.
class ClassStream {
 public:
  ClassStream(const std::vector<int64_t>& items, std::mt19937_64& rng) : items_(items), rng_(rng) {
    pass_ = items_;
    shuffle_portable(pass_, rng_);
  }

  std::vector<int64_t> take(int64_t k) {
    std::vector<int64_t> chunk;
    chunk.reserve(static_cast<size_t>(k));
    while (static_cast<int64_t>(chunk.size()) < k) {
      if (pos_ == pass_.size()) {
        pass_ = items_;
        shuffle_portable(pass_, rng_);
        // The items already in the chunk go to the end of the new pass: a
        // chunk never repeats an item of a class with at least K items, and
        // holds every item of a smaller class.
        std::stable_partition(pass_.begin(), pass_.end(),
                              [&](int64_t item) { return std::find(chunk.begin(), chunk.end(), item) == chunk.end(); });
        pos_ = 0;
      }
      chunk.push_back(pass_[pos_++]);
    }
    return chunk;
  }

 private:
  const std::vector<int64_t>& items_;
  std::mt19937_64& rng_;
  std::vector<int64_t> pass_;
  size_t pos_ = 0;
};

}  // namespace

PKSampler::PKSampler(std::vector<int64_t> labels, int64_t p, int64_t k, uint64_t seed)
    : labels_(std::move(labels)), p_(p), k_(k), seed_(seed) {
  if (p_ < 1 || k_ < 1)
    throw Error("PK sampler: P (classes per batch) and K (items per class) must be at least 1, got P = " +
                std::to_string(p_) + ", K = " + std::to_string(k_));
  std::map<int64_t, std::vector<int64_t>> by_class;
  for (size_t i = 0; i < labels_.size(); ++i) by_class[labels_[i]].push_back(static_cast<int64_t>(i));
  if (static_cast<int64_t>(by_class.size()) < p_)
    throw Error("PK sampler: batches need P = " + std::to_string(p_) + " distinct classes but the " +
                std::to_string(labels_.size()) + " labels have only " + std::to_string(by_class.size()) +
                " classes; use a smaller P (classes per batch)");
  int64_t chunks = 0, most = 0;
  for (auto& [label, items] : by_class) {
    const int64_t c = ceil_div(static_cast<int64_t>(items.size()), k_);
    chunks += c;
    most = std::max(most, c);
    class_items_.push_back(std::move(items));
  }
  batches_ = std::max(ceil_div(chunks, p_), most);
}

std::vector<std::vector<int64_t>> PKSampler::epoch_batches(int64_t epoch) const {
  std::mt19937_64 rng(derive_seed(seed_, static_cast<uint64_t>(epoch), 0x504b53616d706c65ULL));
  const int64_t classes = this->classes();

  std::vector<int64_t> class_order(static_cast<size_t>(classes));
  for (int64_t c = 0; c < classes; ++c) class_order[static_cast<size_t>(c)] = c;
  shuffle_portable(class_order, rng);

  // Deal one pass of chunks round-robin: a class's chunks are consecutive and
  // at most batches_ many, so they land in distinct batches.
  std::vector<std::vector<int64_t>> batch_classes(static_cast<size_t>(batches_));
  int64_t dealt = 0;
  for (const int64_t c : class_order) {
    const int64_t chunks = ceil_div(static_cast<int64_t>(class_items_[static_cast<size_t>(c)].size()), k_);
    for (int64_t i = 0; i < chunks; ++i, ++dealt) batch_classes[static_cast<size_t>(dealt % batches_)].push_back(c);
  }

  std::vector<ClassStream> streams;
  streams.reserve(static_cast<size_t>(classes));
  for (int64_t c = 0; c < classes; ++c) streams.emplace_back(class_items_[static_cast<size_t>(c)], rng);

  // First the dealt chunks (they use up each class's first pass), then the fill.
  std::vector<std::vector<int64_t>> batches(static_cast<size_t>(batches_));
  for (size_t b = 0; b < batches.size(); ++b)
    for (const int64_t c : batch_classes[b]) {
      const auto chunk = streams[static_cast<size_t>(c)].take(k_);
      batches[b].insert(batches[b].end(), chunk.begin(), chunk.end());
    }
  for (size_t b = 0; b < batches.size(); ++b) {
    const int64_t missing = p_ - static_cast<int64_t>(batch_classes[b].size());
    if (missing <= 0) continue;
    std::vector<int64_t> others;
    for (int64_t c = 0; c < classes; ++c)
      if (std::find(batch_classes[b].begin(), batch_classes[b].end(), c) == batch_classes[b].end()) others.push_back(c);
    for (int64_t i = 0; i < missing; ++i) {
      // Partial Fisher-Yates: a uniformly random class among those left.
      const size_t j = static_cast<size_t>(i) + uniform_below(rng, others.size() - static_cast<size_t>(i));
      std::swap(others[static_cast<size_t>(i)], others[j]);
      const auto chunk = streams[static_cast<size_t>(others[static_cast<size_t>(i)])].take(k_);
      batches[b].insert(batches[b].end(), chunk.begin(), chunk.end());
    }
  }
  shuffle_portable(batches, rng);
  return batches;
}

}  // namespace imret::data
