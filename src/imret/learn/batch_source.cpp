#include "imret/learn/batch_source.hpp"

#include <torch/torch.h>

#include <functional>

#include "imret/core/error.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/data/multilabel_sampler.hpp"
#include "imret/data/pk_sampler.hpp"
#include "imret/data/random.hpp"
#include "imret/data/transforms.hpp"
#include "imret/data/tuple_sampler.hpp"
#include "imret/learn/registry.hpp"
#include "imret/models/channels_last.hpp"

namespace imret::learn {
namespace {

// A data::Loader over the training split; subclasses plan each epoch.
class LoaderSource : public BatchSource {
 public:
  LoaderSource(const TrainConfig& config, std::shared_ptr<const data::Dataset> train, c10::Device device,
               std::shared_ptr<data::BadImageLog> bad_images, BatchPart part)
      : part_(part),
        config_(config),
        train_(train),
        device_(device),
        multi_label_(train->has_objects()),
        bad_images_(bad_images),
        loader_(train, data::make_train_transform(config.preprocess, config.augment), loader_options(config, *train),
                bad_images) {}

  std::optional<TrainingBatch> next() override {
    std::optional<data::Batch> batch = loader_.next();
    if (!batch) return std::nullopt;
    TrainingBatch out;
    out.images = models::channels_last(batch->images.to(device_));
    // Multi-label data: the objective compares object counts (N x C).
    out.labels = (multi_label_ ? batch->objects : batch->labels).to(device_);
    out.indices = std::move(batch->indices);
    out.number = batch->number;
    return out;
  }

  int64_t bad_images() const override { return bad_images_->count(); }

 protected:
  static data::LoaderOptions loader_options(const TrainConfig& config, const data::Dataset& train) {
    data::LoaderOptions options;
    options.batch_size = config.batch_size;
    options.shuffle = true;
    options.drop_last = train.size() > config.batch_size;
    options.seed = config.seed;
    options.workers = config.workers;
    options.on_bad_image = data::parse_bad_image_policy(config.on_bad_image);
    return options;
  }

  // This process's parts of `batches`. A batch of fewer units than ranks
  // (the last, smaller one) is left out on every rank: some would get nothing.
  std::vector<std::vector<int64_t>> parts(const std::vector<std::vector<int64_t>>& batches, int64_t unit = 1) const {
    std::vector<std::vector<int64_t>> out;
    for (const auto& b : batches)
      if (static_cast<int64_t>(b.size()) / unit >= part_.ranks) out.push_back(part_of(b, part_, unit));
    return out;
  }
  static int64_t count(const std::vector<std::vector<int64_t>>& batches) {
    int64_t items = 0;
    for (const auto& b : batches) items += static_cast<int64_t>(b.size());
    return items;
  }

  BatchPart part_;
  TrainConfig config_;
  std::shared_ptr<const data::Dataset> train_;
  c10::Device device_;
  bool multi_label_;
  std::shared_ptr<data::BadImageLog> bad_images_;
  data::Loader loader_;
};

// Shuffled batches of config.batch_size (the loader's own order).
class ShuffledBatches : public LoaderSource {
 public:
  using LoaderSource::LoaderSource;
  int64_t start_epoch(int64_t epoch) override {
    if (part_.ranks == 1) {
      loader_.start_epoch(epoch);
      return loader_.items_per_epoch();
    }
    auto batches = parts(loader_.epoch_batches(epoch));
    const int64_t items = count(batches);
    loader_.start_epoch(epoch, std::move(batches));
    return items;
  }
  std::string description() const override { return "batch " + std::to_string(config_.batch_size); }
};

// P x K batches (PKSampler, or MultiLabelPKSampler for multi-label data).
class PKBatches : public LoaderSource {
 public:
  PKBatches(const TrainConfig& config, std::shared_ptr<const data::Dataset> train, c10::Device device,
            std::shared_ptr<data::BadImageLog> bad_images, BatchPart part)
      : LoaderSource(config, train, device, bad_images, part) {
    if (multi_label_) {
      auto sampler = std::make_shared<data::MultiLabelPKSampler>(train->all_objects(), config.classes_per_batch,
                                                                 config.images_per_class, config.seed);
      plan_ = [sampler](int64_t epoch) { return sampler->epoch_batches(epoch); };
    } else {
      auto sampler = std::make_shared<data::PKSampler>(train->labels(), config.classes_per_batch,
                                                       config.images_per_class, config.seed);
      plan_ = [sampler](int64_t epoch) { return sampler->epoch_batches(epoch); };
    }
  }
  int64_t start_epoch(int64_t epoch) override {
    auto batches = parts(plan_(epoch));
    const int64_t items = count(batches);
    loader_.start_epoch(epoch, std::move(batches));
    return items;
  }
  std::string description() const override {
    return (multi_label_ ? "multi-label P x K = " : "P x K = ") + std::to_string(config_.classes_per_batch) + " x " +
           std::to_string(config_.images_per_class) + " batches";
  }

 private:
  std::function<std::vector<std::vector<int64_t>>(int64_t)> plan_;
};

// Offline tuples: one per training image, drawn anew each epoch, batch_size
// tuples a batch; each batch comes with the rows of its tuples.
class OfflineTupleBatches : public LoaderSource {
 public:
  OfflineTupleBatches(const TrainConfig& config, std::shared_ptr<const data::Dataset> train, c10::Device device,
                      std::shared_ptr<data::BadImageLog> bad_images, BatchPart part, data::TupleKind kind)
      : LoaderSource(config, train, device, bad_images, part), kind_(kind), arity_(kind == data::TupleKind::Pair ? 2 : 3) {}

  int64_t start_epoch(int64_t epoch) override {
    planned_ = parts(data::tuple_batches(data::offline_tuples(train_->labels(), kind_,
                                                              data::derive_seed(config_.seed, 0x747570, epoch)),
                                         config_.batch_size),
                     arity_);
    planned_next_ = 0;
    loader_.start_epoch(epoch, planned_);
    return count(planned_);
  }

  std::optional<TrainingBatch> next() override {
    while (std::optional<TrainingBatch> batch = LoaderSource::next()) {
      // The planned tuples whose images were all delivered (bad ones skipped).
      std::optional<std::vector<std::vector<int64_t>>> rows;
      while (planned_next_ < planned_.size() &&
             !(rows = data::tuple_rows(planned_[planned_next_], arity_, batch->indices)))
        ++planned_next_;
      if (!rows) throw Error("internal error: a batch does not match the planned tuples");
      ++planned_next_;
      if (rows->empty()) continue;
      std::vector<int64_t> flat;
      for (const auto& tuple : *rows) flat.insert(flat.end(), tuple.begin(), tuple.end());
      batch->tuple_rows = torch::tensor(flat, torch::kLong).reshape({static_cast<int64_t>(rows->size()), arity_});
      return batch;
    }
    return std::nullopt;
  }

  std::string description() const override {
    return "offline " + std::string(arity_ == 2 ? "pairs" : "triplets") + ", " + std::to_string(config_.batch_size) +
           " a batch";
  }

 private:
  data::TupleKind kind_;
  int64_t arity_;
  std::vector<std::vector<int64_t>> planned_;  // the epoch's batches of tuples
  size_t planned_next_ = 0;
};

}  // namespace

std::vector<int64_t> part_of(const std::vector<int64_t>& batch, BatchPart part, int64_t unit) {
  const int64_t units = static_cast<int64_t>(batch.size()) / unit;
  const int64_t begin = units * part.rank / part.ranks, end = units * (part.rank + 1) / part.ranks;
  return {batch.begin() + begin * unit, batch.begin() + end * unit};
}

std::unique_ptr<BatchSource> make_batch_source(const TrainConfig& config, std::shared_ptr<const data::Dataset> train,
                                               c10::Device device, std::shared_ptr<data::BadImageLog> bad_images,
                                               BatchPart part) {
  const MethodDescriptor& method = find_method(config.method);
  if (config.tuples == "offline") {
    if (train->has_objects())
      throw SettingError("tuples", " offline needs single-label data; multi-label images (objects) train online");
    const data::TupleKind kind = method.tuples == TupleShape::Pairs ? data::TupleKind::Pair : data::TupleKind::Triplet;
    return std::make_unique<OfflineTupleBatches>(config, train, device, bad_images, part, kind);
  }
  if (!method.trains_classifier) return std::make_unique<PKBatches>(config, train, device, bad_images, part);
  return std::make_unique<ShuffledBatches>(config, train, device, bad_images, part);
}

}  // namespace imret::learn
