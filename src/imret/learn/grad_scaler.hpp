#pragma once
// Dynamic loss scaling for float16 training, as torch.cuda.amp.GradScaler
// with its defaults: the loss is multiplied by the scale before backward (so
// that small float16 gradients do not flush to zero); the gradients are
// divided by it before clipping and the step; a step whose gradients hold an
// inf or NaN is skipped and the scale halves; after `growth_interval` good
// steps in a row it doubles. One host synchronisation per step (the
// skip-or-step decision), as in PyTorch.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace imret::learn {

struct GradScalerOptions {
  double init_scale = 65536.0;  // 2^16
  double growth_factor = 2.0;
  double backoff_factor = 0.5;
  int64_t growth_interval = 2000;
};

class GradScaler {
 public:
  explicit GradScaler(GradScalerOptions options = {});

  double scale() const { return scale_; }
  // loss x scale, to call backward() on.
  at::Tensor scale_loss(const at::Tensor& loss) const;
  // Divides every defined gradient of `parameters` by the scale, in place.
  // Returns false when a gradient holds an inf or NaN (before dividing): the
  // optimiser step must be skipped.
  bool unscale(const std::vector<at::Tensor>& parameters);
  // After the step (or the skip): the scale backs off on a non-finite step,
  // grows after growth_interval finite ones in a row.
  void update(bool finite);
  int64_t skipped_steps() const { return skipped_; }

 private:
  GradScalerOptions options_;
  double scale_;
  int64_t good_steps_ = 0;  // finite steps since the scale last changed
  int64_t skipped_ = 0;
};

}  // namespace imret::learn
