#pragma once
// Runs a block of network code in a Precision (core/precision.hpp), as
// PyTorch's `torch.autocast` does:
//   bf16, fp16  autocast on the device type (CPU: bf16 only), the weights
//               stay float32 and are cast per call (cached within the
//               outermost scope, then released);
//   fp32, tf32  autocast off inside the scope, also when the caller had it on
//               (a Python user's torch.autocast around the Embedder, say).
// The scope restores the caller's state on exit. Autocast is thread-local.
// TF32 is not the scope's business: the backward pass and the layers around
// the backbone run outside it, so use_precision_flags sets it for the job.
#include <c10/core/Device.h>
#include <c10/core/DeviceType.h>

#include "imret/core/precision.hpp"

namespace imret::models {

class PrecisionScope {
 public:
  PrecisionScope(Precision precision, c10::DeviceType device_type);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  c10::DeviceType device_type_;
  bool changed_ = false;  // this scope set autocast (restores the previous state)
  bool mixed_ = false;    // ... on, as one nesting level
  bool was_enabled_ = false;
  int previous_dtype_ = 0;  // at::ScalarType
};

// The process-wide TF32 flags of cuBLAS and cuDNN for a job run in
// `precision`: on for tf32, off for every other (fp32 then matches the CPU to
// rounding, where PyTorch's default leaves cuDNN's TF32 on; bf16 and fp16 run
// their float32 layers in float32). Called once a job knows its precision,
// before it computes: training's backward pass reads the flags too.
void use_precision_flags(Precision precision);

// On a CUDA device: cuDNN times its convolution algorithms for each new
// input shape and keeps the fastest (torch.backends.cudnn.benchmark), worth it
// for the fixed batch shapes of embedding and training. Process-wide; no-op
// elsewhere.
void use_fastest_convolutions(const c10::Device& device);

}  // namespace imret::models
