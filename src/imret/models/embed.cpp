#include "imret/models/embed.hpp"

#include <c10/core/Event.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <deque>
#include <optional>
#include <thread>

#include "imret/core/progress.hpp"
#include "imret/models/autocast.hpp"
#include "imret/models/channels_last.hpp"

namespace imret::models {
namespace {

// Batches to the device. On CUDA each copy runs on a side stream, from the
// loader's pinned memory, and the compute stream waits for it by an event, so
// that batch k+1's copy overlaps batch k's network. Elsewhere: a plain copy.
class Uploader {
 public:
  explicit Uploader(c10::Device device) : device_(device) {
    if (!device.is_cuda()) return;
    guard_.emplace(device.type());
    compute_ = guard_->getStream(device);
    copy_ = guard_->getStreamFromGlobalPool(device, /*isHighPriority=*/false);
  }

  torch::Tensor upload(const torch::Tensor& host) {
    if (!guard_) return host.to(device_);
    torch::Tensor on_device;
    c10::Event copied(device_.type());
    {
      c10::StreamGuard on_copy_stream(*copy_);
      on_device = host.to(device_, /*non_blocking=*/true);
      copied.record(*copy_);
    }
    copied.block(*compute_);
    // The memory was allocated on the copy stream and is used on the compute
    // stream: the caching allocator must not reuse it before that use ends.
    guard_->recordDataPtrOnStream(on_device.storage().data_ptr(), *compute_);
    return on_device;
  }

  // Marks the end of a batch's work on the compute stream; waits while more
  // than `in_flight` batches are queued on the GPU, so that the host (and the
  // device memory of queued inputs) stays at most that far ahead.
  void batch_queued(size_t in_flight = 3) {
    if (!guard_) return;
    done_.emplace_back(device_.type());
    done_.back().record(*compute_);
    while (done_.size() > in_flight) {
      while (!done_.front().query()) std::this_thread::sleep_for(std::chrono::microseconds(100));
      done_.pop_front();
    }
  }

 private:
  c10::Device device_;
  std::optional<c10::impl::VirtualGuardImpl> guard_;
  std::optional<c10::Stream> compute_, copy_;
  std::deque<c10::Event> done_;
};

// Embeddings gathered on the device and brought to the host in blocks of
// about 256 MB: one wait for the GPU per block instead of one per batch.
class Collector {
 public:
  void add(torch::Tensor values) {
    if (values.device().is_cpu()) {
      host_.push_back(values.to(torch::kFloat));
      return;
    }
    pending_bytes_ += values.numel() * static_cast<int64_t>(values.element_size());
    pending_.push_back(std::move(values));
    if (pending_bytes_ >= (int64_t{256} << 20)) flush();
  }

  torch::Tensor finish(int64_t dim) {
    flush();
    return host_.empty() ? torch::empty({0, dim}) : torch::cat(host_).contiguous();
  }

 private:
  void flush() {
    if (pending_.empty()) return;
    host_.push_back(torch::cat(pending_).to(torch::kCPU, torch::kFloat));
    pending_.clear();
    pending_bytes_ = 0;
  }

  std::vector<torch::Tensor> host_, pending_;
  int64_t pending_bytes_ = 0;
};

}  // namespace

Embeddings embed_dataset(Network& network, std::shared_ptr<const data::Dataset> dataset,
                         std::shared_ptr<const data::Transform> transform, const EmbedOptions& options,
                         std::shared_ptr<data::BadImageLog> bad_images) {
  check_precision_on(options.precision, options.device);
  data::LoaderOptions loader_options;
  loader_options.batch_size = options.batch_size;
  loader_options.workers = options.workers;
  loader_options.on_bad_image = options.on_bad_image;
  loader_options.pin_memory = options.device.is_cuda();
  data::Loader loader(dataset, std::move(transform), loader_options, std::move(bad_images));
  loader.start_epoch(0);

  network.eval();
  network.to(options.device);
  network.set_precision(options.precision);
  use_fastest_convolutions(options.device);
  if (options.channels_last) use_channels_last(network);
  c10::InferenceMode inference;
  Uploader uploader(options.device);
  Collector collector;
  Embeddings result;
  Progress progress(options.label, dataset->size(), "img");
  while (auto batch = loader.next()) {
    torch::Tensor images = uploader.upload(batch->images);
    if (options.channels_last) images = channels_last(images);
    collector.add(network.embed(images));
    uploader.batch_queued();
    result.indices.insert(result.indices.end(), batch->indices.begin(), batch->indices.end());
    progress.advance(static_cast<int64_t>(batch->indices.size()));
  }
  result.values = collector.finish(network.embedding_dim());
  progress.finish();
  return result;
}

}  // namespace imret::models
