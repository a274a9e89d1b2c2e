#pragma once
// The batch norm of imret's networks: torch::nn::BatchNorm1d/2d's names
// (weight, bias, running_mean, running_var, num_batches_tracked), defaults
// (eps 1e-5, momentum 0.1, affine, running statistics) and computation
// (torch::batch_norm), plus an optional sum over processes of the batch
// statistics (synchronised batch norm, as PyTorch's SyncBatchNorm) for
// data-parallel training, where each process holds a part of the batch.
// One module for N x C and N x C x H x W inputs.
#include <torch/nn/cloneable.h>

#include <memory>
#include <ostream>

namespace imret::models {

// Sums a tensor over the processes of a data-parallel run, in a way autograd
// follows: the gradient of the sum is summed over the processes too.
class BatchStatisticsSum {
 public:
  virtual ~BatchStatisticsSum() = default;
  virtual at::Tensor sum(const at::Tensor& local) = 0;
};

// Training with a BatchStatisticsSum set: the batch's mean and (biased)
// variance are those of the whole batch over the processes (the sums of x,
// x^2 and the counts, summed); the running statistics take the unbiased
// variance, as torch::nn::BatchNorm does. Otherwise torch::nn's batch norm.
class BatchNormImpl : public torch::nn::Cloneable<BatchNormImpl> {
 public:
  explicit BatchNormImpl(int64_t features);
  void reset() override;
  at::Tensor forward(const at::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  int64_t features;
  double eps = 1e-5;
  double momentum = 0.1;
  at::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  std::shared_ptr<BatchStatisticsSum> statistics_sum;
};
TORCH_MODULE(BatchNorm);

// Sets (or, with null, clears) the statistics sum of every BatchNorm of
// `network`; returns how many there are.
int64_t synchronize_batch_norm(torch::nn::Module& network, std::shared_ptr<BatchStatisticsSum> sum);

}  // namespace imret::models
