#pragma once
// The numeric precision a network computes in (--precision): what a user asks
// for, and where each is possible. models/autocast.hpp applies it.
//   fp32  float32 throughout; on CUDA with TF32 off (cuBLAS and cuDNN), so
//         results match the CPU's to rounding.
//   tf32  float32 storage, TF32 tensor-core matrix products and convolutions
//         (CUDA only: the CPU has no TF32).
//   bf16  autocast to bfloat16 (CUDA, and the CPU where LibTorch's CPU
//         autocast runs it), float32 master weights.
//   fp16  autocast to float16 (CUDA only: LibTorch's CPU autocast has no
//         float16), float32 master weights, a gradient scaler in training.
// Heads, normalisation, whitening, losses and metrics stay float32 in every
// mode; only the backbone's convolutions and matrix products change.
#include <string>

namespace c10 {
struct Device;
}

namespace imret {

enum class Precision { Fp32, Tf32, Bf16, Fp16 };

// "fp32" | "tf32" | "bf16" | "fp16" (also "float32", "bfloat16", "float16");
// SettingError "precision <text>: expected fp32, tf32, bf16 or fp16" otherwise.
Precision parse_precision(const std::string& text);

// "fp32", "tf32", "bf16", "fp16".
std::string precision_name(Precision precision);

// True for the autocast modes (bf16, fp16).
bool is_mixed(Precision precision);

// SettingError naming the precision and the device when the device cannot
// run it: tf32 and fp16 need a CUDA device. bf16 on a CPU without native
// bfloat16 arithmetic (AVX-512 BF16 or AMX) runs, emulated, many times slower
// than fp32: that is warned about once per process.
void check_precision_on(Precision precision, const c10::Device& device);

// Whether this CPU computes bfloat16 natively (/proc/cpuinfo lists
// avx512_bf16 or amx_bf16).
bool cpu_has_native_bf16();

}  // namespace imret
