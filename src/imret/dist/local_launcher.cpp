#include "imret/dist/local_launcher.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "imret/core/error.hpp"

extern char** environ;

namespace imret::dist {
namespace {

using Clock = std::chrono::steady_clock;

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

int exit_code_of(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

// The worker's environment: this one's, without a launcher's variables,
// with torchrun's contract for `rank`. Built before fork(): the child only
// calls execve.
std::vector<std::string> worker_environment(const LocalLaunch& launch, int rank, int port) {
  static const char* const kReplaced[] = {"RANK=", "LOCAL_RANK=", "WORLD_SIZE=", "LOCAL_WORLD_SIZE=", "MASTER_ADDR=",
                                          "MASTER_PORT=", "IMRET_LAUNCHER=", "TORCHELASTIC_", "GROUP_RANK=",
                                          "ROLE_RANK=", "ROLE_WORLD_SIZE="};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    bool replaced = false;
    for (const char* prefix : kReplaced) replaced = replaced || entry.rfind(prefix, 0) == 0;
    if (!replaced) env.push_back(entry);
  }
  const std::string world = std::to_string(launch.processes);
  for (const std::string& entry :
       {"RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank), "WORLD_SIZE=" + world,
        "LOCAL_WORLD_SIZE=" + world, std::string("MASTER_ADDR=127.0.0.1"), "MASTER_PORT=" + std::to_string(port),
        std::string("IMRET_LAUNCHER=imret --nproc-per-node")})  // for the workers' log line
    env.push_back(entry);
  return env;
}

pid_t start_worker(const LocalLaunch& launch, int rank, int port) {
  std::vector<std::string> args = {launch.program};
  args.insert(args.end(), launch.arguments.begin(), launch.arguments.end());
  std::vector<std::string> env = worker_environment(launch, rank, port);
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw Error("cannot start worker " + std::to_string(rank) + ": " + std::strerror(errno));
  if (pid > 0) return pid;
  execve(launch.program.c_str(), argv.data(), envp.data());
  const char message[] = "imret: cannot run a worker (execve failed)\n";
  (void)!write(STDERR_FILENO, message, sizeof message - 1);
  _exit(127);
}

// The workers, for the signal handler (async-signal-safe: a fixed array).
constexpr int kMaxWorkers = 1024;
volatile sig_atomic_t worker_count = 0;
pid_t worker_pids[kMaxWorkers];

// SIGTERM or SIGINT to the launcher goes on to every worker, as torchrun's
// agent does; the launcher then reports how they ended.
void forward_signal(int signal_number) {
  for (int k = 0; k < worker_count; ++k) kill(worker_pids[k], signal_number);
}

// Installs forward_signal for SIGTERM and SIGINT while alive; restores the old handlers after.
class ForwardSignals {
 public:
  ForwardSignals() {
    struct sigaction action {};
    action.sa_handler = forward_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, &old_term_);
    sigaction(SIGINT, &action, &old_int_);
  }
  ~ForwardSignals() {
    sigaction(SIGTERM, &old_term_, nullptr);
    sigaction(SIGINT, &old_int_, nullptr);
    worker_count = 0;
  }

 private:
  struct sigaction old_term_ {};
  struct sigaction old_int_ {};
};

}  // namespace

int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw Error(std::string("cannot open a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  close(fd);
  if (!ok) throw Error(std::string("cannot find a free port on 127.0.0.1: ") + std::strerror(errno));
  return ntohs(address.sin_port);
}

int run_local_workers(const LocalLaunch& launch) {
  if (launch.processes < 1 || launch.processes > kMaxWorkers)
    throw Error("the number of processes must be 1 to " + std::to_string(kMaxWorkers));
  const int port = launch.master_port > 0 ? launch.master_port : free_loopback_port();
  std::map<pid_t, int> running;  // pid -> rank
  ForwardSignals forwarding;
  try {
    for (int rank = 0; rank < launch.processes; ++rank) {
      const pid_t pid = start_worker(launch, rank, port);
      running[pid] = rank;
      worker_pids[rank] = pid;
      worker_count = rank + 1;
    }
  } catch (...) {
    for (const auto& [pid, rank] : running) kill(pid, SIGTERM);  // none left behind
    throw;
  }
  int first_failure = 0;
  std::optional<Clock::time_point> deadline;  // set at the first failure
  bool terminated = false;
  while (!running.empty()) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, deadline ? WNOHANG : 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break;
    if (pid == 0) {
      // Failed before: the others are given their grace, then stopped.
      const auto now = Clock::now();
      if (!terminated && now > *deadline) {
        for (const auto& [p, rank] : running) kill(p, SIGTERM);
        terminated = true;
        deadline = now + std::chrono::seconds(5);
      } else if (terminated && now > *deadline) {
        for (const auto& [p, rank] : running) kill(p, SIGKILL);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const int rank = it->second;
    running.erase(it);
    const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!failed) continue;
    std::cerr << "imret: rank " << rank << " (pid " << pid << ") " << describe_status(status) << "\n";
    if (first_failure == 0) {
      first_failure = exit_code_of(status);
      deadline = Clock::now() + launch.grace;
    }
  }
  return first_failure;
}

}  // namespace imret::dist
