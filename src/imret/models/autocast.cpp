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
  if (device_type != c10::DeviceType::CPU && device_type != c10::DeviceType::CUDA) return;
  mixed_ = is_mixed(precision);
  was_enabled_ = autocast_enabled(device_type);
  if (!mixed_ && !was_enabled_) return;  // fp32 or tf32, and autocast already off: nothing to do
  changed_ = true;
  previous_dtype_ = static_cast<int>(autocast_dtype(device_type));
  if (mixed_) {
    set_autocast_dtype(device_type, precision == Precision::Bf16 ? at::kBFloat16 : at::kHalf);
    at::autocast::increment_nesting();
  }
  set_autocast_enabled(device_type, mixed_);
}

PrecisionScope::~PrecisionScope() {
  if (!changed_) return;
  // As torch.autocast's __exit__: the cast weights live until the outermost scope ends.
  if (mixed_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast_enabled(device_type_, was_enabled_);
  set_autocast_dtype(device_type_, static_cast<at::ScalarType>(previous_dtype_));
}

void use_precision_flags(Precision precision) {
  auto& context = at::globalContext();
  const bool tf32 = precision == Precision::Tf32;
  context.setAllowTF32CuDNN(tf32);
  context.setAllowTF32CuBLAS(tf32);
}

void use_fastest_convolutions(const c10::Device& device) {
  if (device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
}

}  // namespace imret::models
