#include "imret/models/autocast.hpp"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace imret::models {
namespace {

// LibTorch 2.4 replaced the per-device functions (is_enabled, is_cpu_enabled,
// get_autocast_gpu_dtype, ...) by ones that take the device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(c10::DeviceType type) { return at::autocast::is_autocast_enabled(type); }
void set_autocast_enabled(c10::DeviceType type, bool on) { at::autocast::set_autocast_enabled(type, on); }
at::ScalarType autocast_dtype(c10::DeviceType type) { return at::autocast::get_autocast_dtype(type); }
void set_autocast_dtype(c10::DeviceType type, at::ScalarType dtype) { at::autocast::set_autocast_dtype(type, dtype); }
#else
bool autocast_enabled(c10::DeviceType type) {
  return type == c10::DeviceType::CUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast_enabled(c10::DeviceType type, bool on) {
  if (type == c10::DeviceType::CUDA)
    at::autocast::set_enabled(on);
  else
    at::autocast::set_cpu_enabled(on);
}
at::ScalarType autocast_dtype(c10::DeviceType type) {
  return type == c10::DeviceType::CUDA ? at::autocast::get_autocast_gpu_dtype()
                                       : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(c10::DeviceType type, at::ScalarType dtype) {
  if (type == c10::DeviceType::CUDA)
    at::autocast::set_autocast_gpu_dtype(dtype);
  else
    at::autocast::set_autocast_cpu_dtype(dtype);
}
#endif

}  // namespace

PrecisionScope::PrecisionScope(Precision precision, c10::DeviceType device_type) : device_type_(device_type) {
  const bool cuda = device_type == c10::DeviceType::CUDA;
  if (cuda) {
    auto& context = at::globalContext();
    previous_cudnn_tf32_ = context.allowTF32CuDNN();
    previous_cublas_tf32_ = context.allowTF32CuBLAS();
    const bool tf32 = precision == Precision::Tf32;
    context.setAllowTF32CuDNN(tf32);
    context.setAllowTF32CuBLAS(tf32);
    tf32_ = true;
  }
  if (!is_mixed(precision) || (device_type != c10::DeviceType::CPU && !cuda)) return;
  autocast_ = true;
  was_enabled_ = autocast_enabled(device_type);
  previous_dtype_ = static_cast<int>(autocast_dtype(device_type));
  set_autocast_dtype(device_type, precision == Precision::Bf16 ? at::kBFloat16 : at::kHalf);
  set_autocast_enabled(device_type, true);
  at::autocast::increment_nesting();
}

PrecisionScope::~PrecisionScope() {
  if (autocast_) {
    // As torch.autocast's __exit__: the cast weights live until the outermost scope ends.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_autocast_enabled(device_type_, was_enabled_);
    set_autocast_dtype(device_type_, static_cast<at::ScalarType>(previous_dtype_));
  }
  if (tf32_) {
    auto& context = at::globalContext();
    context.setAllowTF32CuDNN(previous_cudnn_tf32_);
    context.setAllowTF32CuBLAS(previous_cublas_tf32_);
  }
}

void use_fastest_convolutions(const c10::Device& device) {
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
}

}  // namespace imret::models
