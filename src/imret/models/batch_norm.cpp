#include "imret/models/batch_norm.hpp"

#include <torch/torch.h>

#include "imret/core/error.hpp"

namespace imret::models {

BatchNormImpl::BatchNormImpl(int64_t features_in) : features(features_in) { reset(); }

void BatchNormImpl::reset() {
  weight = register_parameter("weight", torch::ones({features}));
  bias = register_parameter("bias", torch::zeros({features}));
  running_mean = register_buffer("running_mean", torch::zeros({features}));
  running_var = register_buffer("running_var", torch::ones({features}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::zeros({}, torch::kLong));
}

void BatchNormImpl::pretty_print(std::ostream& stream) const {
  stream << "imret::models::BatchNorm(" << features << ", eps=" << eps << ", momentum=" << momentum << ")";
}

at::Tensor BatchNormImpl::forward(const at::Tensor& x) {
  if (is_training() && !statistics_sum && x.numel() / std::max<int64_t>(x.size(1), 1) < 2)
    throw Error("batch norm: training needs more than one value per channel (a batch of one image; with several "
                "processes, a batch part of one image: use larger batches or --sync-batch-norm)");
  if (!is_training() || !statistics_sum) {
    if (is_training()) num_batches_tracked.add_(1);
    return torch::batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum, eps,
                             at::globalContext().userEnabledCuDNN());
  }
  // Statistics of the whole batch over the processes, in two passes (the
  // mean, then the squared deviations from it: no cancellation).
  const int64_t channels = x.size(1);
  std::vector<int64_t> dims = {0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  const at::Tensor xf = x.to(torch::kFloat);
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = channels;
  const at::Tensor count = torch::full({1}, static_cast<double>(x.numel() / std::max<int64_t>(channels, 1)),
                                       xf.options().requires_grad(false));
  const at::Tensor sums = statistics_sum->sum(torch::cat({xf.sum(dims), count}));
  const at::Tensor n = sums.narrow(0, channels, 1);
  const at::Tensor mean = sums.narrow(0, 0, channels) / n;
  const at::Tensor centred = xf - mean.view(shape);
  const at::Tensor var = statistics_sum->sum((centred * centred).sum(dims)) / n;
  const at::Tensor y = centred * torch::rsqrt(var + eps).view(shape) * weight.view(shape) + bias.view(shape);
  {
    torch::NoGradGuard no_grad;
    const double items = n.item<double>();
    running_mean.mul_(1 - momentum).add_(mean.detach(), momentum);
    running_var.mul_(1 - momentum).add_(var.detach() * (items / std::max(items - 1, 1.0)), momentum);
    num_batches_tracked.add_(1);
  }
  return y.to(x.scalar_type());
}

int64_t synchronize_batch_norm(torch::nn::Module& network, std::shared_ptr<BatchStatisticsSum> sum) {
  int64_t count = 0;
  for (const auto& module : network.modules()) {
    if (auto* norm = dynamic_cast<BatchNormImpl*>(module.get())) {
      norm->statistics_sum = sum;
      ++count;
    }
  }
  return count;
}

}  // namespace imret::models
