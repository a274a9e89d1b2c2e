#pragma once
// Several workers on this host without torchrun (imret train
// --nproc-per-node N): the program is started N times with the variables
// torchrun gives its workers (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR=127.0.0.1, MASTER_PORT: a free port) and watched like torchrun
// watches them. Torch-free.
#include <chrono>
#include <string>
#include <vector>

namespace imret::dist {

struct LocalLaunch {
  int processes = 2;
  std::string program;             // the executable (argv[0] of each worker too)
  std::vector<std::string> arguments;  // after the program
  int master_port = 0;             // 0: a free port
  // After a worker fails, the others get this long to end by themselves
  // (they notice the failure at their next collective), then SIGTERM, then
  // SIGKILL 5 s later.
  std::chrono::seconds grace{30};
};

// Runs the workers and waits for all of them; SIGTERM and SIGINT to this
// process are passed on to them meanwhile. 0 when every one succeeded;
// else the exit status of the first to fail (128 + signal for a signal),
// after one line on stderr per failed worker: "rank 1 (pid 123) was killed
// by signal 9". imret::Error when a worker cannot be started.
int run_local_workers(const LocalLaunch& launch);

// A TCP port free on the loopback interface now (bound, read, released).
int free_loopback_port();

}  // namespace imret::dist
