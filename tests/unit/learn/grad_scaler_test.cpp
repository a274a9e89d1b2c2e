// The float16 gradient scaler's rules, as torch.cuda.amp.GradScaler's: scale
// the loss, unscale the gradients, skip a step with an inf or NaN and back
// off, grow after growth_interval good steps.
#include "imret/learn/grad_scaler.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "imret/core/error.hpp"

using imret::learn::GradScaler;
using imret::learn::GradScalerOptions;

namespace {

torch::Tensor parameter_with_grad(std::vector<float> grad) {
  torch::Tensor p = torch::zeros({static_cast<int64_t>(grad.size())}, torch::requires_grad());
  p.mutable_grad() = torch::tensor(grad);
  return p;
}

}  // namespace

TEST(GradScaler, ScalesTheLossAndUnscalesTheGradients) {
  GradScaler scaler;
  EXPECT_EQ(scaler.scale(), 65536.0);
  EXPECT_EQ(scaler.scale_loss(torch::tensor(0.5f)).item<float>(), 32768.0f);
  std::vector<torch::Tensor> params = {parameter_with_grad({65536.0f, -131072.0f}), parameter_with_grad({6.5536f})};
  params.push_back(torch::zeros({2}, torch::requires_grad()));  // no gradient: left alone
  EXPECT_TRUE(scaler.unscale(params));
  EXPECT_TRUE(torch::equal(params[0].grad(), torch::tensor({1.0f, -2.0f})));
  EXPECT_NEAR(params[1].grad()[0].item<float>(), 1e-4f, 1e-10f);
  EXPECT_FALSE(params[2].grad().defined());
}

TEST(GradScaler, SkipsNonFiniteStepsAndBacksOff) {
  for (float bad : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    GradScaler scaler;
    std::vector<torch::Tensor> params = {parameter_with_grad({1.0f}), parameter_with_grad({2.0f, bad, 3.0f})};
    EXPECT_FALSE(scaler.unscale(params)) << bad;
    scaler.update(false);
    EXPECT_EQ(scaler.scale(), 32768.0);
    EXPECT_EQ(scaler.skipped_steps(), 1);
  }
}

TEST(GradScaler, GrowsAfterTheIntervalOfGoodSteps) {
  GradScalerOptions options;
  options.init_scale = 8;
  options.growth_interval = 3;
  GradScaler scaler(options);
  scaler.update(true);
  scaler.update(true);
  EXPECT_EQ(scaler.scale(), 8.0);
  scaler.update(true);
  EXPECT_EQ(scaler.scale(), 16.0);
  scaler.update(true);
  scaler.update(false);  // a bad step restarts the count
  EXPECT_EQ(scaler.scale(), 8.0);
  scaler.update(true);
  scaler.update(true);
  EXPECT_EQ(scaler.scale(), 8.0);
  scaler.update(true);
  EXPECT_EQ(scaler.scale(), 16.0);
  EXPECT_EQ(scaler.skipped_steps(), 1);
}

TEST(GradScaler, RefusesBadOptions) {
  GradScalerOptions options;
  options.backoff_factor = 1.5;
  EXPECT_THROW(GradScaler{options}, imret::UsageError);
  options = {};
  options.growth_interval = 0;
  EXPECT_THROW(GradScaler{options}, imret::UsageError);
}
