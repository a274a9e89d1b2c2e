#pragma once
// Process-wide runtime settings: threads and the compute device.
#include <cstdint>
#include <string>

namespace c10 {
struct Device;
}

namespace imret {

// The most threads any setting may ask for: 4 x the machine's cores
// (std::thread::hardware_concurrency). More only cost memory and switches.
int64_t max_threads();

// Checks a thread count of the setting named `setting` (e.g. "threads", or a
// flag such as "--threads" where a command line names it): throws UsageError
// "<setting> <n>: expected <min> to <max> (up to 4 x the <cores> cores)"
// unless min_threads <= n <= max_threads(). min_threads 0 where 0 means "in
// the calling thread" (a data loader's workers).
void check_thread_count(const std::string& setting, int64_t n, int64_t min_threads = 1);

// Sets LibTorch's intra-op threads: n, or all cores for 0 (not given). Other
// counts are checked as check_thread_count("threads", n) does. Returns the number set.
int configure_threads(int64_t n = 0);

// Parses "cpu", "cuda" or "cuda:N"; throws UsageError when the device is
// unknown or CUDA is not available in this build or on this machine.
c10::Device parse_device(const std::string& text);

}  // namespace imret
