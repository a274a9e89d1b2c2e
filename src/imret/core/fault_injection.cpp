#include "imret/core/fault_injection.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

namespace imret {
namespace {

struct FaultPlan {
  long kill_at = 0;  // 0: never
  bool trace = false;
};

const FaultPlan& plan() {
  static const FaultPlan value = [] {
    FaultPlan p;
    if (const char* at = std::getenv("IMRET_FAULT_AT")) p.kill_at = std::strtol(at, nullptr, 10);
    if (const char* trace = std::getenv("IMRET_FAULT_TRACE")) p.trace = trace[0] != '\0' && trace[0] != '0';
    return p;
  }();
  return value;
}

std::atomic<long> points_passed{0};

}  // namespace

void commit_point(const char* name) {
  const FaultPlan& p = plan();
  if (p.kill_at <= 0 && !p.trace) return;
  const long number = ++points_passed;
  if (p.trace) std::fprintf(stderr, "imret: commit point %ld: %s\n", number, name);
  if (number == p.kill_at) {
    std::fprintf(stderr, "imret: fault injection: killed at commit point %ld (%s)\n", number, name);
    std::fflush(stderr);
    ::kill(::getpid(), SIGKILL);
    ::_exit(137);  // not reached
  }
}

}  // namespace imret
