#pragma once
// Where a training epoch's batches come from (the first piece of the training
// loop, training_loop.hpp): plain shuffled batches (classification), P x K
// batches (metric learning online; multi-label data: data::MultiLabelPKSampler)
// or batches of offline tuples (pairs or triplets drawn anew each epoch, with
// the rows of each tuple in its batch). Images are decoded by a data::Loader
// and delivered on the training device, channels-last.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "imret/data/dataset.hpp"
#include "imret/data/loader.hpp"
#include "imret/learn/train_config.hpp"

namespace imret::learn {

struct TrainingBatch {
  at::Tensor images;             // N x C x H x W on the device, channels-last
  at::Tensor labels;             // N class indices, or N x C object counts for multi-label data; on the device
  at::Tensor tuple_rows;         // offline: T x 2 or T x 3 rows of the batch (int64, CPU); undefined: mine
  std::vector<int64_t> indices;  // the dataset index of each row
  int64_t number = 0;            // the batch's place in the epoch's plan (the same on every rank)
};

// A process's part of every batch in a data-parallel run: the batches are
// planned for the whole world, exactly as one process would train on them,
// and rank r loads the r-th of `ranks` contiguous parts of each (whole
// tuples for offline tuples). Gathered in rank order, the parts are the
// one-process batch. A batch with fewer entries than ranks (an epoch's last,
// smaller batch) is left out on every rank.
struct BatchPart {
  int rank = 0;
  int ranks = 1;
};

// The part of `batch` (groups of `unit` consecutive entries kept together).
std::vector<int64_t> part_of(const std::vector<int64_t>& batch, BatchPart part, int64_t unit = 1);

class BatchSource {
 public:
  virtual ~BatchSource() = default;
  // Prepares epoch `epoch` (0-based); returns the images it plans to deliver.
  virtual int64_t start_epoch(int64_t epoch) = 0;
  // The next batch of the epoch; nullopt at its end.
  virtual std::optional<TrainingBatch> next() = 0;
  // For the run's first log line: "batch 128", "P x K = 10 x 25 batches", ...
  virtual std::string description() const = 0;
  // Images skipped so far as unreadable.
  virtual int64_t bad_images() const { return 0; }
};

// The batch source a configuration trains with: offline tuples (config.tuples
// "offline"; pairs or triplets as the method's descriptor says), P x K
// batches (metric learning), or shuffled batches of config.batch_size
// (classification). Loader settings (workers, seed, bad-image policy,
// augmentation) from the config; skipped images are recorded in `bad_images`.
// `part`: this process's part of each batch. UsageError for offline tuples
// on multi-label data.
std::unique_ptr<BatchSource> make_batch_source(const TrainConfig& config, std::shared_ptr<const data::Dataset> train,
                                               c10::Device device, std::shared_ptr<data::BadImageLog> bad_images,
                                               BatchPart part = {});

}  // namespace imret::learn
