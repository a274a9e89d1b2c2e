#include "imret/core/runtime.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <thread>

#include "imret/core/error.hpp"
#include "imret/core/setting_error.hpp"

namespace imret {

namespace {

int64_t cores() { return std::max<int64_t>(1, std::thread::hardware_concurrency()); }

}  // namespace

int64_t max_threads() { return 4 * cores(); }

void check_thread_count(const std::string& setting, int64_t n, int64_t min_threads) {
  if (n < min_threads || n > max_threads())
    throw SettingError(setting, " " + std::to_string(n) + ": expected " + std::to_string(min_threads) + " to " +
                     std::to_string(max_threads()) + " (up to 4 x the " + std::to_string(cores()) + " cores)");
}

int configure_threads(int64_t n) {
  if (n != 0) check_thread_count("threads", n);
  const int threads = static_cast<int>(n == 0 ? cores() : n);
  torch::set_num_threads(threads);
  return threads;
}

c10::Device parse_device(const std::string& text) {
  if (text == "cpu") return torch::kCPU;
  if (text.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available())
      throw SettingError("device", " " + text + ": CUDA is not available (this LibTorch build or machine has no GPU); "
                                   "use cpu");
    try {
      return c10::Device(text);
    } catch (const std::exception&) {
      throw SettingError("device", " " + text + ": expected cpu, cuda or cuda:N");
    }
  }
  throw SettingError("device", " " + text + ": expected cpu, cuda or cuda:N");
}

}  // namespace imret
