#include "imret/data/multilabel_sampler.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <unordered_set>

#include "imret/core/error.hpp"
#include "imret/data/random.hpp"

namespace imret::data {
namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The classes of each batch: passes over the classes 0..C-1, each in a new
// shuffled order, cut into batches of P. A batch spanning two passes moves the
// classes it already holds to the end of the new pass (that pass still holds
// every class once; C >= P leaves enough others at its front).
std::vector<std::vector<int64_t>> class_schedule(int64_t classes, int64_t p, int64_t batches, std::mt19937_64& rng) {
  std::vector<std::vector<int64_t>> schedule(static_cast<size_t>(batches));
  std::vector<int64_t> pass;
  size_t pos = 0;
  for (auto& chosen : schedule) {
    while (static_cast<int64_t>(chosen.size()) < p) {
      if (pos == pass.size()) {
        pass.resize(static_cast<size_t>(classes));
        for (int64_t c = 0; c < classes; ++c) pass[static_cast<size_t>(c)] = c;
        shuffle_portable(pass, rng);
        std::stable_partition(pass.begin(), pass.end(),
                              [&](int64_t c) { return std::find(chosen.begin(), chosen.end(), c) == chosen.end(); });
        pos = 0;
      }
      chosen.push_back(pass[pos++]);
    }
  }
  return schedule;
}

// One class's images as a stream of shuffled passes. The queue holds each
// image at most once; an image passed over because it is already in the
// batch stays at the front and has its turn at the class's next group.
class ClassStream {
 public:
  ClassStream(const std::vector<int64_t>& items, uint64_t seed)
      : items_(items), rng_(seed), queued_(items.size(), 0) {
    refill();
  }

  // K images of the class for a group of the batch `in_batch` (updated):
  // first images not yet in the batch; when the class has too few of those,
  // images in other groups; when it has fewer than K images, repeats.
  std::vector<int64_t> take(int64_t k, std::unordered_multiset<int64_t>& in_batch) {
    std::vector<int64_t> group;
    auto outside_batch = [&](size_t local) { return in_batch.count(items_[local]) == 0; };
    auto outside_group = [&](size_t local) {
      return std::find(group.begin(), group.end(), items_[local]) == group.end();
    };
    while (static_cast<int64_t>(group.size()) < k) {
      auto it = std::find_if(queue_.begin(), queue_.end(), outside_batch);
      if (it == queue_.end()) {
        refill();
        it = std::find_if(queue_.begin(), queue_.end(), outside_batch);
      }
      if (it == queue_.end()) it = std::find_if(queue_.begin(), queue_.end(), outside_group);
      if (it == queue_.end()) it = queue_.begin();
      const size_t local = *it;
      queue_.erase(it);
      queued_[local] = 0;
      group.push_back(items_[local]);
      in_batch.insert(items_[local]);
    }
    return group;
  }

 private:
  // Appends, in a new shuffled order, the images not already queued.
  void refill() {
    std::vector<size_t> pass;
    for (size_t i = 0; i < items_.size(); ++i)
      if (!queued_[i]) pass.push_back(i);
    shuffle_portable(pass, rng_);
    for (size_t i : pass) {
      queued_[i] = 1;
      queue_.push_back(i);
    }
  }

  const std::vector<int64_t>& items_;
  std::mt19937_64 rng_;
  std::deque<size_t> queue_;    // positions in items_
  std::vector<char> queued_;    // per position: in queue_
};

}  // namespace

MultiLabelPKSampler::MultiLabelPKSampler(const std::vector<ObjectCounts>& objects, int64_t p, int64_t k, uint64_t seed)
    : p_(p), k_(k), seed_(seed) {
  if (p_ < 1 || k_ < 1)
    throw Error("multi-label PK sampler: P (classes per batch) and K (images per class) must be at least 1, got P = " +
                std::to_string(p_) + ", K = " + std::to_string(k_));
  std::map<int64_t, std::vector<int64_t>> by_class;
  int64_t with_objects = 0;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (!objects[i].empty()) ++with_objects;
    for (const ObjectCount& o : objects[i]) {
      if (o.category < 0) throw Error("multi-label PK sampler: item " + std::to_string(i) + " has a negative category");
      auto& items = by_class[o.category];
      if (items.empty() || items.back() != static_cast<int64_t>(i)) items.push_back(static_cast<int64_t>(i));
    }
  }
  if (static_cast<int64_t>(by_class.size()) < p_)
    throw Error("multi-label PK sampler: batches need P = " + std::to_string(p_) + " distinct classes but the " +
                std::to_string(objects.size()) + " images hold only " + std::to_string(by_class.size()) +
                " classes; use a smaller P (classes per batch)");
  for (auto& [category, items] : by_class) {
    class_ids_.push_back(category);
    class_items_.push_back(std::move(items));
  }
  batches_ = std::max(ceil_div(with_objects, p_ * k_), ceil_div(classes(), p_));
}

std::vector<MultiLabelBatch> MultiLabelPKSampler::epoch_plan(int64_t epoch) const {
  const uint64_t epoch_seed = derive_seed(seed_, static_cast<uint64_t>(epoch), 0x4d4c504b53ULL);
  std::mt19937_64 rng(epoch_seed);
  const auto schedule = class_schedule(classes(), p_, batches_, rng);

  std::vector<ClassStream> streams;
  streams.reserve(class_items_.size());
  for (size_t c = 0; c < class_items_.size(); ++c) streams.emplace_back(class_items_[c], derive_seed(epoch_seed, c));

  std::vector<MultiLabelBatch> plan(schedule.size());
  for (size_t b = 0; b < schedule.size(); ++b) {
    std::unordered_multiset<int64_t> in_batch;
    for (const int64_t c : schedule[b]) {
      const auto group = streams[static_cast<size_t>(c)].take(k_, in_batch);
      plan[b].classes.push_back(class_ids_[static_cast<size_t>(c)]);
      plan[b].items.insert(plan[b].items.end(), group.begin(), group.end());
    }
  }
  return plan;
}

std::vector<std::vector<int64_t>> MultiLabelPKSampler::epoch_batches(int64_t epoch) const {
  std::vector<std::vector<int64_t>> batches;
  for (auto& batch : epoch_plan(epoch)) batches.push_back(std::move(batch.items));
  return batches;
}

}  // namespace imret::data
