#pragma once
// Runs a block of network code in a Precision (core/precision.hpp), as
// PyTorch's `torch.autocast` and `torch.backends.*.allow_tf32` do:
//   bf16, fp16  autocast on the device type (CPU: bf16 only), the weights
//               stay float32 and are cast per call (cached within the
//               outermost scope, then released);
//   tf32        TF32 allowed for cuBLAS and cuDNN (process-wide flags);
//   fp32        TF32 off for both, on CUDA (PyTorch's default has cuDNN's on).
// The scope restores everything on exit. Autocast is thread-local; the TF32
// flags are process-wide, so one process uses one precision at a time.
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
  bool autocast_ = false;  // this scope turned autocast on (restores the previous state)
  bool was_enabled_ = false;
  int previous_dtype_ = 0;  // at::ScalarType
  bool tf32_ = false;       // this scope set the TF32 flags
  bool previous_cudnn_tf32_ = false, previous_cublas_tf32_ = false;
};

// On a CUDA device: cuDNN times its convolution algorithms for each new
// input shape and keeps the fastest (torch.backends.cudnn.benchmark), worth it
// for the fixed batch shapes of embedding and training. Process-wide; no-op
// elsewhere.
void use_fastest_convolutions(const c10::Device& device);

}  // namespace imret::models
