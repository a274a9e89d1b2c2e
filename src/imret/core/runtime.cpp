#include "imret/core/runtime.hpp"

#include <torch/torch.h>

#include <thread>

#include "imret/core/error.hpp"

namespace imret {

int configure_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(n);
  return n;
}

c10::Device parse_device(const std::string& text) {
  if (text == "cpu") return torch::kCPU;
  if (text.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw UsageError("--device " + text + ": CUDA is not available (this LibTorch build or machine has no GPU); use --device cpu");
    try {
      return c10::Device(text);
    } catch (const std::exception&) {
      throw UsageError("--device " + text + ": expected cpu, cuda or cuda:N");
    }
  }
  throw UsageError("--device " + text + ": expected cpu, cuda or cuda:N");
}

}  // namespace imret
