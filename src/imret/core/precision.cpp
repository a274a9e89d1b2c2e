#include "imret/core/precision.hpp"

#include <c10/core/Device.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "imret/core/setting_error.hpp"

namespace imret {

Precision parse_precision(const std::string& text) {
  if (text == "fp32" || text == "float32") return Precision::Fp32;
  if (text == "tf32") return Precision::Tf32;
  if (text == "bf16" || text == "bfloat16") return Precision::Bf16;
  if (text == "fp16" || text == "float16") return Precision::Fp16;
  throw SettingError("precision",
                     " " + (text.empty() ? std::string("''") : text) + ": expected fp32, tf32, bf16 or fp16");
}

std::string precision_name(Precision precision) {
  switch (precision) {
    case Precision::Fp32:
      return "fp32";
    case Precision::Tf32:
      return "tf32";
    case Precision::Bf16:
      return "bf16";
    case Precision::Fp16:
      return "fp16";
  }
  return "fp32";
}

bool is_mixed(Precision precision) { return precision == Precision::Bf16 || precision == Precision::Fp16; }

void check_precision_on(Precision precision, const c10::Device& device) {
  if (device.is_cuda()) return;
  const std::string where = " on " + SettingError::mention("device") + " " + device.str();
  if (precision == Precision::Tf32)
    throw SettingError("precision", " tf32" + where +
                                        ": TF32 is a CUDA tensor-core format; use fp32 or bf16 here, "
                                        "or a CUDA device");
  if (precision == Precision::Fp16)
    throw SettingError("precision", " fp16" + where +
                                        ": LibTorch's CPU autocast has no float16; use bf16 here, "
                                        "or a CUDA device");
  static std::atomic<bool> warned{false};
  if (precision == Precision::Bf16 && device.is_cpu() && !cpu_has_native_bf16() && !warned.exchange(true))
    spdlog::warn(
        "precision bf16: this CPU has no native bfloat16 (AVX-512 BF16 or AMX); LibTorch emulates it, "
        "tens of times slower than fp32 (docs/gpu.md)");
}

bool cpu_has_native_bf16() {
  static const bool native = [] {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
      if (line.rfind("flags", 0) != 0) continue;
      std::istringstream flags(line);
      std::string flag;
      while (flags >> flag)
        if (flag == "avx512_bf16" || flag == "amx_bf16") return true;
      return false;
    }
    return false;
  }();
  return native;
}

}  // namespace imret
