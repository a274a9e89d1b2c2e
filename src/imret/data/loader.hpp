#pragma once
// Batches from a dataset, decoded and transformed by worker threads while the
// model works, delivered in order and reproducibly.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "imret/data/dataset.hpp"
#include "imret/data/transforms.hpp"

namespace imret::data {

// What to do with an image that cannot be read or decoded.
enum class BadImagePolicy { Skip, Fail };

// "skip" or "fail"; throws UsageError otherwise.
BadImagePolicy parse_bad_image_policy(const std::string& text);

// The images skipped under BadImagePolicy::Skip, each file once however
// many epochs meet it. Thread-safe.
class BadImageLog {
 public:
  // Records `path` unless it is already recorded (then the first reason is
  // kept); true when it was new.
  bool add(const std::string& path, const std::string& reason);
  // Distinct files recorded.
  int64_t count() const;
  // {path, reason} in the order the files were first added.
  std::vector<std::pair<std::string, std::string>> entries() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::pair<std::string, std::string>> entries_;
  std::unordered_set<std::string> paths_;
};

struct Batch {
  at::Tensor images;             // N x C x H x W float32
  at::Tensor labels;             // N int64
  at::Tensor objects;            // multi-label datasets only: N x classes int64 instance counts
  std::vector<int64_t> indices;  // dataset index of each row (bad images skipped)
  int64_t number = 0;            // the batch's place in its epoch's plan (0-based; skipped batches leave gaps)
};

struct LoaderOptions {
  int64_t batch_size = 256;
  bool shuffle = false;
  bool drop_last = false;  // drop the last batch when it is smaller than batch_size
  uint64_t seed = 0;       // shuffling and per-item augmentation
  int workers = 2;         // decoding threads; 0 = decode in next()'s thread
  int prefetch_batches = 4;  // batches made ahead of next() (at least 1)
  BadImagePolicy on_bad_image = BadImagePolicy::Skip;
  // Batches' images in page-locked host memory (made by the worker), so that
  // a copy to a CUDA device can run asynchronously. Needs a CUDA LibTorch.
  bool pin_memory = false;
};

// The objects of `indices` as rows of instance counts: len(indices) x
// dataset.classes().size() int64 (CPU).
at::Tensor object_count_rows(const Dataset& dataset, const std::vector<int64_t>& indices);

// Makes the batches of one epoch at a time.
//
// Guarantees: batches come in order and their content depends only on
// (dataset, transform, options, epoch), not on thread timing: the order is
// 0..n-1, or a shuffle seeded by (seed, epoch); item i's transform draws from
// an rng seeded by (seed, epoch, i). With an in-memory dataset and a batchable
// transform, a whole batch is loaded with load_many and transformed at once.
// Items of one batch must share one size after the transform (else the
// error names two of them).
// Bad images: any exception from loading or transforming one item (a
// BadImageError, a cv::Exception, an allocation failure: std::bad_alloc or
// c10::Error...) is a bad image of that item's file (dataset.source(i)),
// with the first line of the exception's text as the reason (c10 messages
// carry a backtrace after it). Skip -> recorded in the log, warned about the
// first time the file is seen, dropped from its batch (a batch left empty is
// not returned); Fail -> next() throws a BadImageError "<file>: <reason>".
// Any other exception of a worker (e.g. items of one batch with different
// sizes) is rethrown by next() too. After a throw the epoch is over (next()
// returns nullopt).
// Worker threads run at most one intra-op thread each (no oversubscription).
// Not thread-safe: use one Loader from one thread.
class Loader {
 public:
  // transform may be null (images as loaded). bad_images: where skipped
  // images are recorded; null: a log of the loader's own (bad_images()).
  Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Transform> transform, LoaderOptions options,
         std::shared_ptr<BadImageLog> bad_images = nullptr);
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;
  // Stops the workers, even mid-epoch, without waiting for the epoch's end.
  ~Loader();

  // Begins epoch `epoch` (abandoning any unfinished one) and starts the workers.
  void start_epoch(int64_t epoch);
  // The same with the epoch's batches given (dataset indices, e.g. from a
  // PKSampler); shuffle, batch_size and drop_last do not apply to them.
  // Throws imret::Error for an empty batch or an index outside the dataset.
  void start_epoch(int64_t epoch, std::vector<std::vector<int64_t>> batches);
  // The next batch of the epoch; nullopt at its end. next() before any
  // start_epoch starts epoch 0.
  std::optional<Batch> next();

  // The batches start_epoch(epoch) would make (the options' order, batch
  // size and drop_last), e.g. to hand each process of a distributed run its part.
  std::vector<std::vector<int64_t>> epoch_batches(int64_t epoch) const;
  int64_t batches_per_epoch() const;
  // Items delivered per epoch when no image is bad (drop_last counted).
  int64_t items_per_epoch() const;
  const std::shared_ptr<BadImageLog>& bad_images() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace imret::data
