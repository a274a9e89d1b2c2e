#include "imret/dist/gradient_sync.hpp"

#include <torch/torch.h>

#include "imret/core/error.hpp"

namespace imret::dist {

struct GradientSync::Bucket {
  std::vector<size_t> members;
  at::Tensor flat;
  int64_t waiting = 0;  // gradients still to come this step
  std::unique_ptr<PendingReduction> pending;
};

GradientSync::GradientSync(std::shared_ptr<Communicator> group, std::vector<at::Tensor> parameters, Reduce reduce,
                           int64_t bucket_bytes)
    : group_(std::move(group)), reduce_(reduce) {
  for (at::Tensor& p : parameters)
    if (p.requires_grad()) parameters_.push_back(p);
  bucket_of_.resize(parameters_.size());
  offset_of_.resize(parameters_.size());
  received_.assign(parameters_.size(), false);
  // Buckets by dtype and device, filled from the last parameter back.
  for (size_t k = parameters_.size(); k-- > 0;) {
    const at::Tensor& p = parameters_[k];
    Bucket* bucket = buckets_.empty() ? nullptr : buckets_.back().get();
    const bool fits = bucket != nullptr &&
                      (bucket->flat.numel() + p.numel()) * p.element_size() <= bucket_bytes &&
                      bucket->flat.scalar_type() == p.scalar_type() && bucket->flat.device() == p.device();
    if (!fits) {
      buckets_.push_back(std::make_unique<Bucket>());
      bucket = buckets_.back().get();
      bucket->flat = torch::zeros({0}, p.options().requires_grad(false));
    }
    bucket_of_[k] = buckets_.size() - 1;
    offset_of_[k] = bucket->flat.numel();
    bucket->members.push_back(k);
    bucket->flat = torch::zeros({bucket->flat.numel() + p.numel()}, bucket->flat.options());
  }
  for (auto& bucket : buckets_) bucket->waiting = static_cast<int64_t>(bucket->members.size());
  for (size_t k = 0; k < parameters_.size(); ++k)
    hooks_.push_back(parameters_[k].register_hook([this, k](const at::Tensor& gradient) {
      ready(k, gradient);
      return at::Tensor();  // the gradient goes on unchanged
    }));
}

GradientSync::~GradientSync() {
  for (size_t k = 0; k < parameters_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
}

void GradientSync::ready(size_t parameter, const at::Tensor& gradient) {
  if (received_[parameter]) throw Error("a parameter received two gradients in one step (two backward passes)");
  received_[parameter] = true;
  ++received_count_;
  Bucket& bucket = *buckets_[bucket_of_[parameter]];
  const at::Tensor& p = parameters_[parameter];
  bucket.flat.narrow(0, offset_of_[parameter], p.numel()).copy_(gradient.reshape({-1}));
  if (--bucket.waiting == 0) start(bucket);
}

void GradientSync::start(Bucket& bucket) { bucket.pending = group_->all_reduce_sum_async(bucket.flat); }

void GradientSync::finish() {
  if (received_count_ == 0) return;
  for (auto& bucket : buckets_) {
    if (bucket->pending) continue;
    for (size_t k : bucket->members)
      if (!received_[k]) bucket->flat.narrow(0, offset_of_[k], parameters_[k].numel()).zero_();
    start(*bucket);
  }
  torch::NoGradGuard no_grad;
  const double scale = reduce_ == Reduce::Average ? 1.0 / group_->world_size() : 1.0;
  for (auto& bucket : buckets_) {
    bucket->pending->wait();
    bucket->pending.reset();
    if (scale != 1.0) bucket->flat.mul_(scale);
    for (size_t k : bucket->members) {
      at::Tensor& p = parameters_[k];
      if (received_[k]) p.mutable_grad().copy_(bucket->flat.narrow(0, offset_of_[k], p.numel()).view(p.sizes()));
      received_[k] = false;
    }
    bucket->waiting = static_cast<int64_t>(bucket->members.size());
  }
  received_count_ = 0;
}

}  // namespace imret::dist
