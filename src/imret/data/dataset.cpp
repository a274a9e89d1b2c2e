#include "imret/data/dataset.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "imret/data/random.hpp"

namespace imret::data {

BadImageError::BadImageError(std::string path, std::string reason)
    : Error(path + ": " + reason), path_(std::move(path)), reason_(std::move(reason)) {}

namespace {

std::string shape_text(const at::Tensor& t) {
  std::string text;
  for (int64_t d = 0; d < t.dim(); ++d) text += (d ? "x" : "") + std::to_string(t.size(d));
  return text;
}

}  // namespace

at::Tensor Dataset::load_many(const std::vector<int64_t>& indices) const {
  std::vector<at::Tensor> items;
  items.reserve(indices.size());
  for (int64_t i : indices) {
    items.push_back(load(i));
    if (items.back().sizes() != items.front().sizes()) {
      throw Error(source(i) + ": image is " + shape_text(items.back()) + " but " + source(indices.front()) + " is " +
                  shape_text(items.front()) + "; items of one batch must share one size (resize or crop them)");
    }
  }
  if (items.empty()) return torch::empty({0, channels(), 0, 0});
  return torch::stack(items);
}

std::vector<int64_t> Dataset::labels() const {
  std::vector<int64_t> all(static_cast<size_t>(size()));
  for (int64_t i = 0; i < size(); ++i) all[static_cast<size_t>(i)] = label(i);
  return all;
}

ObjectCounts Dataset::objects(int64_t i) const {
  const int64_t l = label(i);
  if (l < 0) return {};
  return {ObjectCount{static_cast<int32_t>(l), 1}};
}

std::vector<ObjectCounts> Dataset::all_objects() const {
  std::vector<ObjectCounts> all(static_cast<size_t>(size()));
  for (int64_t i = 0; i < size(); ++i) all[static_cast<size_t>(i)] = objects(i);
  return all;
}

namespace {

class SubsetDataset : public Dataset {
 public:
  SubsetDataset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices)
      : base_(std::move(base)), indices_(std::move(indices)) {}

  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  int64_t label(int64_t i) const override { return base_->label(base_index(i)); }
  const std::vector<std::string>& classes() const override { return base_->classes(); }
  bool has_objects() const override { return base_->has_objects(); }
  ObjectCounts objects(int64_t i) const override { return base_->objects(base_index(i)); }
  std::string source(int64_t i) const override { return base_->source(base_index(i)); }
  int64_t channels() const override { return base_->channels(); }
  at::Tensor load(int64_t i) const override { return base_->load(base_index(i)); }
  at::Tensor load_many(const std::vector<int64_t>& indices) const override {
    std::vector<int64_t> mapped;
    mapped.reserve(indices.size());
    for (int64_t i : indices) mapped.push_back(base_index(i));
    return base_->load_many(mapped);
  }
  bool in_memory() const override { return base_->in_memory(); }

 private:
  int64_t base_index(int64_t i) const {
    if (i < 0 || i >= size()) throw Error("subset item " + std::to_string(i) + " out of range 0.." + std::to_string(size() - 1));
    return indices_[static_cast<size_t>(i)];
  }

  std::shared_ptr<const Dataset> base_;
  std::vector<int64_t> indices_;
};

}  // namespace

std::shared_ptr<Dataset> subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices) {
  if (!base) throw Error("subset: no base dataset");
  for (int64_t i : indices) {
    if (i < 0 || i >= base->size()) {
      throw Error("subset: index " + std::to_string(i) + " out of range for a dataset of " +
                  std::to_string(base->size()) + " items");
    }
  }
  return std::make_shared<SubsetDataset>(std::move(base), std::move(indices));
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> stratified_split(const Dataset& dataset, double fraction,
                                                                       uint64_t seed) {
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    throw Error("stratified split: fraction must be between 0 and 1, got " + std::to_string(fraction));
  }
  std::map<int64_t, std::vector<int64_t>> by_class;
  for (int64_t i = 0; i < dataset.size(); ++i) by_class[dataset.label(i)].push_back(i);

  std::vector<int64_t> kept, held_out;
  for (auto& [label, members] : by_class) {
    std::mt19937_64 rng(derive_seed(seed, static_cast<uint64_t>(label)));
    shuffle_portable(members, rng);
    const auto n_held = static_cast<size_t>(std::llround(fraction * static_cast<double>(members.size())));
    held_out.insert(held_out.end(), members.begin(), members.begin() + static_cast<std::ptrdiff_t>(n_held));
    kept.insert(kept.end(), members.begin() + static_cast<std::ptrdiff_t>(n_held), members.end());
  }
  std::sort(kept.begin(), kept.end());
  std::sort(held_out.begin(), held_out.end());
  return {std::move(kept), std::move(held_out)};
}

std::shared_ptr<const Dataset> stratified_part(std::shared_ptr<const Dataset> dataset, int64_t count, uint64_t seed) {
  if (count <= 0 || count >= dataset->size()) return dataset;
  const double dropped = 1.0 - static_cast<double>(count) / static_cast<double>(dataset->size());
  return subset(dataset, stratified_split(*dataset, dropped, seed).first);
}

}  // namespace imret::data
