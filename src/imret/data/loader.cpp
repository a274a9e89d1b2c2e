#include "imret/data/loader.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <atomic>
#include <condition_variable>
#include <exception>
#include <map>
#include <new>
#include <thread>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#include <dlfcn.h>
#define IMRET_HAVE_DLSYM_IN_LIBC 1
#endif

#include "imret/data/random.hpp"

namespace imret::data {

at::Tensor object_count_rows(const Dataset& dataset, const std::vector<int64_t>& indices) {
  const auto classes = static_cast<int64_t>(dataset.classes().size());
  at::Tensor rows = torch::zeros({static_cast<int64_t>(indices.size()), classes}, torch::kInt64);
  auto* out = rows.data_ptr<int64_t>();
  for (size_t r = 0; r < indices.size(); ++r) {
    for (const ObjectCount& o : dataset.objects(indices[r])) {
      if (o.category < 0 || o.category >= classes)
        throw Error(dataset.source(indices[r]) + ": object category " + std::to_string(o.category) + " outside 0.." +
                    std::to_string(classes - 1));
      out[static_cast<int64_t>(r) * classes + o.category] = o.count;
    }
  }
  return rows;
}

BadImagePolicy parse_bad_image_policy(const std::string& text) {
  if (text == "skip") return BadImagePolicy::Skip;
  if (text == "fail") return BadImagePolicy::Fail;
  throw UsageError("unknown bad-image policy '" + text + "' (use skip or fail)");
}

bool BadImageLog::add(const std::string& path, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!paths_.insert(path).second) return false;
  entries_.emplace_back(path, reason);
  return true;
}

int64_t BadImageLog::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(entries_.size());
}

std::vector<std::pair<std::string, std::string>> BadImageLog::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_;
}

namespace {

// Limits LibTorch's intra-op parallelism in the calling thread to one thread.
// With LibTorch's OpenMP backend every thread that runs a parallel op gets
// its own team of (cores) threads, so loader workers would oversubscribe the
// cores the model uses. omp_set_num_threads affects only the calling thread;
// it is looked up at run time so that imret needs no OpenMP flags.
void limit_intraop_threads_of_this_thread() {
  at::internal::lazy_init_num_threads();  // torch's own per-thread setup first, or it would undo ours
#ifdef IMRET_HAVE_DLSYM_IN_LIBC
  using SetThreads = void (*)(int);
  static const auto set_threads = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (set_threads) set_threads(1);
#endif
}

std::string shape_text(const at::Tensor& t) {
  std::string text;
  for (int64_t d = 0; d < t.dim(); ++d) text += (d ? "x" : "") + std::to_string(t.size(d));
  return text;
}

// The outcome of making one batch: a batch, nothing (every image bad, or
// cancelled), or an error to rethrow.
struct BatchResult {
  std::optional<Batch> batch;
  std::exception_ptr error;
};

constexpr uint64_t kShuffleStream = UINT64_MAX;  // never an item index

// The first non-empty line of an exception's text: a c10::Error's what()
// continues with a backtrace, which is no reason to show a user.
std::string first_line(const char* text) {
  std::string line;
  for (const char* c = text; *c; ++c) {
    if (*c == '\n' || *c == '\r') {
      if (!line.empty()) break;
    } else {
      line += *c;
    }
  }
  return line.empty() ? std::string("unknown error") : line;
}

// Why the exception being handled made item loading fail, in one line.
BadImageError bad_image_of_current_exception(const std::string& source) {
  try {
    throw;
  } catch (const BadImageError& e) {
    return e;
  } catch (const std::bad_alloc&) {
    return BadImageError(source, "out of memory while loading the image");
  } catch (const std::exception& e) {
    return BadImageError(source, first_line(e.what()));
  } catch (...) {
    return BadImageError(source, "unknown error while loading the image");
  }
}

}  // namespace

class Loader::Impl {
 public:
  Impl(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Transform> transform, LoaderOptions options,
       std::shared_ptr<BadImageLog> bad_images)
      : dataset_(std::move(dataset)),
        transform_(std::move(transform)),
        options_(options),
        bad_images_(bad_images ? std::move(bad_images) : std::make_shared<BadImageLog>()) {
    if (!dataset_) throw Error("Loader: no dataset");
    if (options_.batch_size <= 0) throw UsageError("batch size must be positive, got " + std::to_string(options_.batch_size));
    if (options_.workers < 0) throw UsageError("loader workers must not be negative");
    options_.prefetch_batches = std::max(options_.prefetch_batches, 1);
    whole_batches_ = dataset_->in_memory() && (!transform_ || transform_->batchable());
  }

  ~Impl() { stop_workers(); }

  void start_epoch(int64_t epoch) { start_epoch(epoch, default_batches(epoch)); }

  void start_epoch(int64_t epoch, std::vector<std::vector<int64_t>> batches) {
    for (const auto& batch : batches) {
      if (batch.empty()) throw Error("Loader: an empty batch in the epoch's batch list");
      for (int64_t i : batch)
        if (i < 0 || i >= dataset_->size())
          throw Error("Loader: item " + std::to_string(i) + " is outside the dataset (" +
                      std::to_string(dataset_->size()) + " items)");
    }
    stop_workers();
    epoch_ = epoch;
    started_ = true;
    batches_ = std::move(batches);
    num_batches_ = static_cast<int64_t>(batches_.size());
    next_to_make_ = 0;
    next_to_deliver_ = 0;
    ready_.clear();
    stopping_ = false;
    for (int w = 0; w < std::min<int64_t>(options_.workers, num_batches_); ++w) workers_.emplace_back([this] { work(); });
  }

  std::optional<Batch> next() {
    if (!started_) start_epoch(0);
    while (next_to_deliver_ < num_batches_) {
      BatchResult result = take_result();
      if (result.error) {
        end_epoch();
        std::rethrow_exception(result.error);
      }
      if (result.batch) return std::move(result.batch);
    }
    return std::nullopt;
  }

  int64_t batches_per_epoch() const {
    const int64_t n = dataset_->size(), b = options_.batch_size;
    return options_.drop_last ? n / b : (n + b - 1) / b;
  }

  int64_t items_per_epoch() const {
    return options_.drop_last ? batches_per_epoch() * options_.batch_size : dataset_->size();
  }

  const std::shared_ptr<BadImageLog>& bad_images() const { return bad_images_; }

  // The epoch's order (shuffled or not) cut into batches of batch_size.
  std::vector<std::vector<int64_t>> default_batches(int64_t epoch) const {
    std::vector<int64_t> order(static_cast<size_t>(dataset_->size()));
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int64_t>(i);
    if (options_.shuffle) {
      std::mt19937_64 rng(derive_seed(options_.seed, static_cast<uint64_t>(epoch), kShuffleStream));
      shuffle_portable(order, rng);
    }
    std::vector<std::vector<int64_t>> batches;
    const int64_t count = batches_per_epoch();
    for (int64_t k = 0; k < count; ++k) {
      const int64_t begin = k * options_.batch_size;
      const int64_t end = std::min<int64_t>(begin + options_.batch_size, static_cast<int64_t>(order.size()));
      batches.emplace_back(order.begin() + begin, order.begin() + end);
    }
    return batches;
  }

 private:
  // The next batch in order: made here when there are no workers, else
  // waited for. Advances next_to_deliver_.
  BatchResult take_result() {
    if (workers_.empty()) return make_result(next_to_deliver_++);
    std::unique_lock<std::mutex> lock(mutex_);
    ready_cv_.wait(lock, [&] { return ready_.count(next_to_deliver_) > 0; });
    auto node = ready_.extract(next_to_deliver_);
    ++next_to_deliver_;
    lock.unlock();
    room_cv_.notify_all();
    return std::move(node.mapped());
  }

  void end_epoch() {
    stop_workers();
    next_to_deliver_ = num_batches_;
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    room_cv_.notify_all();
    for (auto& worker : workers_) worker.join();
    workers_.clear();
  }

  void work() {
    limit_intraop_threads_of_this_thread();
    while (true) {
      int64_t k = 0;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        room_cv_.wait(lock, [&] {
          return stopping_ || next_to_make_ >= num_batches_ ||
                 next_to_make_ < next_to_deliver_ + options_.prefetch_batches;
        });
        if (stopping_ || next_to_make_ >= num_batches_) return;
        k = next_to_make_++;
      }
      BatchResult result = make_result(k);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.emplace(k, std::move(result));
      }
      ready_cv_.notify_all();
    }
  }

  BatchResult make_result(int64_t k) {
    BatchResult result;
    try {
      result.batch = make_batch(k);
    } catch (...) {
      result.error = std::current_exception();
    }
    return result;
  }

  std::vector<int64_t> batch_indices(int64_t k) const { return batches_[static_cast<size_t>(k)]; }

  std::optional<Batch> make_batch(int64_t k) {
    Batch batch;
    batch.number = k;
    batch.indices = batch_indices(k);
    if (whole_batches_) {
      batch.images = load_whole_batch(batch.indices);
    } else {
      auto images = load_items(batch.indices);  // drops bad images from batch.indices
      if (stopping_ || batch.indices.empty()) return std::nullopt;
      batch.images = stack_items(images, batch.indices);
    }
    if (batch.images.scalar_type() != torch::kFloat32) batch.images = batch.images.to(torch::kFloat32);
    batch.images = batch.images.contiguous();
    if (options_.pin_memory) batch.images = batch.images.pin_memory();
    batch.labels = torch::empty({static_cast<int64_t>(batch.indices.size())}, torch::kInt64);
    auto* labels = batch.labels.data_ptr<int64_t>();
    for (size_t r = 0; r < batch.indices.size(); ++r) labels[r] = dataset_->label(batch.indices[r]);
    if (dataset_->has_objects()) batch.objects = object_count_rows(*dataset_, batch.indices);
    return batch;
  }

  at::Tensor load_whole_batch(const std::vector<int64_t>& indices) const {
    at::Tensor images = dataset_->load_many(indices);
    if (!transform_) return images;
    std::mt19937_64 rng(derive_seed(options_.seed, static_cast<uint64_t>(epoch_), static_cast<uint64_t>(indices[0])));
    return transform_->apply(images, rng);
  }

  // Loads and transforms each item; bad images are handled by the policy and
  // removed from `indices`. Stops early (returning what it has) when stopping.
  std::vector<at::Tensor> load_items(std::vector<int64_t>& indices) {
    std::vector<at::Tensor> images;
    std::vector<int64_t> kept;
    images.reserve(indices.size());
    for (int64_t index : indices) {
      if (stopping_) break;
      try {
        images.push_back(load_item(index));
        kept.push_back(index);
      } catch (...) {
        const BadImageError bad = bad_image_of_current_exception(dataset_->source(index));
        if (options_.on_bad_image == BadImagePolicy::Fail) throw bad;
        if (bad_images_->add(bad.path(), bad.reason())) spdlog::warn("skipping bad image {}: {}", bad.path(), bad.reason());
      }
    }
    indices = std::move(kept);
    return images;
  }

  at::Tensor load_item(int64_t index) const {
    at::Tensor image = dataset_->load(index);
    if (!transform_) return image;
    std::mt19937_64 rng(derive_seed(options_.seed, static_cast<uint64_t>(epoch_), static_cast<uint64_t>(index)));
    return transform_->apply(image, rng);
  }

  at::Tensor stack_items(const std::vector<at::Tensor>& images, const std::vector<int64_t>& indices) const {
    for (size_t r = 1; r < images.size(); ++r) {
      if (images[r].sizes() != images[0].sizes()) {
        throw Error(dataset_->source(indices[r]) + ": image is " + shape_text(images[r]) + " after the transform but " +
                    dataset_->source(indices[0]) + " is " + shape_text(images[0]) +
                    "; images of a batch must share one size (set a resize and crop)");
      }
    }
    return torch::stack(images);
  }

  // Configuration.
  std::shared_ptr<const Dataset> dataset_;
  std::shared_ptr<const Transform> transform_;
  LoaderOptions options_;
  std::shared_ptr<BadImageLog> bad_images_;
  bool whole_batches_ = false;

  // The current epoch (written only while no worker runs).
  int64_t epoch_ = 0;
  bool started_ = false;
  std::vector<std::vector<int64_t>> batches_;  // the current epoch's batches
  int64_t num_batches_ = 0;

  // Shared with the workers, guarded by mutex_ (stopping_ also read unlocked).
  std::mutex mutex_;
  std::condition_variable room_cv_;   // a worker may make another batch, or stop
  std::condition_variable ready_cv_;  // a batch is ready
  int64_t next_to_make_ = 0;
  int64_t next_to_deliver_ = 0;
  std::atomic<bool> stopping_{false};
  std::map<int64_t, BatchResult> ready_;
  std::vector<std::thread> workers_;
};

Loader::Loader(std::shared_ptr<const Dataset> dataset, std::shared_ptr<const Transform> transform,
               LoaderOptions options, std::shared_ptr<BadImageLog> bad_images)
    : impl_(std::make_unique<Impl>(std::move(dataset), std::move(transform), options, std::move(bad_images))) {}

Loader::~Loader() = default;

void Loader::start_epoch(int64_t epoch) { impl_->start_epoch(epoch); }
void Loader::start_epoch(int64_t epoch, std::vector<std::vector<int64_t>> batches) {
  impl_->start_epoch(epoch, std::move(batches));
}
std::optional<Batch> Loader::next() { return impl_->next(); }
std::vector<std::vector<int64_t>> Loader::epoch_batches(int64_t epoch) const { return impl_->default_batches(epoch); }
int64_t Loader::batches_per_epoch() const { return impl_->batches_per_epoch(); }
int64_t Loader::items_per_epoch() const { return impl_->items_per_epoch(); }
const std::shared_ptr<BadImageLog>& Loader::bad_images() const { return impl_->bad_images(); }

}  // namespace imret::data
