#pragma once
// Process-wide runtime settings: threads and the compute device.
#include <string>

namespace c10 {
struct Device;
}

namespace imret {

// Sets LibTorch's intra-op threads; n <= 0 means the number of cores.
// Returns the number set.
int configure_threads(int n);

// Parses "cpu", "cuda" or "cuda:N"; throws UsageError when the device is
// unknown or CUDA is not available in this build or on this machine.
c10::Device parse_device(const std::string& text);

}  // namespace imret
