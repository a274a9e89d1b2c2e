#pragma once
// Datasets: numbered items, each an image with a class label, or (COCO) with
// the objects it holds.
//
// A Dataset only knows where its items are and how to read one; transforms
// (transforms.hpp) and batching (loader.hpp) are separate. Implementations:
// IDX files (idx.hpp, Fashion-MNIST) and image folders (image_folder.hpp).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "imret/core/error.hpp"
#include "imret/core/object_counts.hpp"

namespace imret::data {

// An item whose file cannot be read or decoded. what() is "<path>: <reason>".
// The loader's bad-image policy (loader.hpp) decides whether it is skipped.
class BadImageError : public Error {
 public:
  BadImageError(std::string path, std::string reason);
  const std::string& path() const { return path_; }
  const std::string& reason() const { return reason_; }

 private:
  std::string path_;
  std::string reason_;
};

class Dataset {
 public:
  virtual ~Dataset() = default;

  // Number of items; items are numbered 0..size()-1.
  virtual int64_t size() const = 0;
  // Class index of item i, in 0..classes().size()-1. For a multi-label
  // dataset (has_objects()): the class with the most instances (ties: the
  // lower index), or -1 for an image without objects.
  virtual int64_t label(int64_t i) const = 0;
  // True when items hold several objects (COCO): objects() is the truth and
  // label() only a summary.
  virtual bool has_objects() const { return false; }
  // The objects of item i (categories index classes()). Default: one object
  // of class label(i).
  virtual ObjectCounts objects(int64_t i) const;
  // Class names; label(i) indexes this list.
  virtual const std::vector<std::string>& classes() const = 0;
  // Where item i comes from: the image's path, or "<idx file>#<index>".
  virtual std::string source(int64_t i) const = 0;
  // Channels of load(): 1 (grey) or 3 (RGB).
  virtual int64_t channels() const = 0;
  // Item i as float32 C x H x W with values in [0, 1], before any transform.
  // Throws BadImageError when the file cannot be read or decoded.
  // Safe to call from several threads at once.
  virtual at::Tensor load(int64_t i) const = 0;
  // Several items as N x C x H x W float32 in [0, 1]. The items must share one
  // size (always true for in-memory datasets); otherwise throws imret::Error.
  // Default: stacks load().
  virtual at::Tensor load_many(const std::vector<int64_t>& indices) const;
  // True when the items are already in memory: load()/load_many() do no I/O,
  // never throw BadImageError, and all items share one size. The loader then
  // loads and transforms whole batches at once.
  virtual bool in_memory() const { return false; }

  // label(i) for every item, in order.
  std::vector<int64_t> labels() const;
  // objects(i) for every item, in order.
  std::vector<ObjectCounts> all_objects() const;
};

// A view on the items `indices` of `base` (in that order): item k of the view
// is item indices[k] of base. Throws imret::Error when an index is out of range.
std::shared_ptr<Dataset> subset(std::shared_ptr<const Dataset> base, std::vector<int64_t> indices);

// Deterministic stratified split: for each class, round(fraction * count)
// items, chosen at random with `seed`, are held out. Returns {kept, held_out},
// each sorted ascending; together they hold every index exactly once.
// Same dataset labels + fraction + seed -> same split on every platform.
// Throws imret::Error unless 0 <= fraction <= 1.
std::pair<std::vector<int64_t>, std::vector<int64_t>> stratified_split(const Dataset& dataset, double fraction,
                                                                       uint64_t seed);

// A stratified part of about `count` items of `dataset` (the kept side of
// stratified_split): the dataset itself when count <= 0 or count >= its size.
std::shared_ptr<const Dataset> stratified_part(std::shared_ptr<const Dataset> dataset, int64_t count, uint64_t seed);

}  // namespace imret::data
