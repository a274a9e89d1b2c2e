#include "imret/models/folded_batch_norm.hpp"

#include <torch/torch.h>

#include <atomic>
#include <type_traits>

namespace imret::models {
namespace {
std::atomic<bool> folding{true};
}  // namespace

void set_batch_norm_folding(bool on) { folding.store(on); }
bool batch_norm_folding() { return folding.load(); }

at::Tensor ConvBatchNorm::forward(torch::nn::Conv2dImpl& conv, BatchNormImpl& bn, const at::Tensor& x) {
  if (bn.is_training()) {  // no folded copy of the weights kept through training
    std::lock_guard<std::mutex> lock(mutex_);
    weight_ = bias_ = at::Tensor();
    made_from_.clear();
  }
  if (!folding.load(std::memory_order_relaxed) || bn.is_training() || at::GradMode::is_enabled() || bn.statistics_sum ||
      conv.bias.defined())
    return bn.forward(conv.forward(x));
  const auto& options = conv.options;
  // The padding as numbers ("valid" and "same" are left to the module): a
  // c10::variant in LibTorch 1.13, a std::variant in 2.x; visit() is found by ADL.
  std::vector<int64_t> padding;
  visit(
      [&](const auto& p) {
        if constexpr (std::is_same_v<std::decay_t<decltype(p)>, torch::ExpandingArray<2>>)
          padding.assign((*p).begin(), (*p).end());
      },
      options.padding());
  const bool zeros =
      visit([](const auto& mode) { return std::is_same_v<std::decay_t<decltype(mode)>, torch::enumtype::kZeros>; },
            options.padding_mode());
  if (padding.empty() || !zeros || options.groups() != 1) return bn.forward(conv.forward(x));
  // Training updates the running statistics in place without bumping their
  // versions; num_batches_tracked's add_ does, so it stands for them.
  const std::vector<at::Tensor> sources = {conv.weight,     bn.weight,      bn.bias,
                                           bn.running_mean, bn.running_var, bn.num_batches_tracked};
  std::vector<Source> now;
  bool cacheable = true;
  for (const at::Tensor& t : sources) {
    // Inference tensors have no version counter: fold anew each call.
    cacheable = cacheable && !t.is_inference();
    now.push_back({t.data_ptr(), cacheable ? static_cast<int64_t>(t._version()) : -1});
  }
  at::Tensor weight, bias;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!cacheable || now != made_from_ || !weight_.defined() || made_with_eps_ != bn.eps) {
      // As PyTorch's torch.nn.utils.fuse_conv_bn_weights, operation for operation.
      const at::Tensor rsqrt = (bn.running_var + bn.eps).rsqrt();
      weight_ = conv.weight * (bn.weight * rsqrt).view({-1, 1, 1, 1});
      bias_ = bn.running_mean.neg() * rsqrt * bn.weight + bn.bias;
      made_from_ = cacheable ? now : std::vector<Source>{};
      made_with_eps_ = bn.eps;
    }
    weight = weight_;
    bias = bias_;
  }
  return at::conv2d(x, weight, bias, *options.stride(), padding, *options.dilation(), 1);
}

}  // namespace imret::models
