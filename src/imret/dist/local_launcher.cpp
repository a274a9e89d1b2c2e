#include "imret/dist/local_launcher.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "imret/core/error.hpp"

namespace imret::dist {
namespace {

using Clock = std::chrono::steady_clock;

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
  return "exited with status " + std::to_string(WEXITSTATUS(status));
}

int exit_code_of(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

pid_t start_worker(const LocalLaunch& launch, int rank, int port) {
  std::vector<std::string> args = {launch.program};
  args.insert(args.end(), launch.arguments.begin(), launch.arguments.end());
  const pid_t pid = fork();
  if (pid < 0) throw Error(std::string("cannot start worker ") + std::to_string(rank) + ": " + std::strerror(errno));
  if (pid > 0) return pid;
  const std::string world = std::to_string(launch.processes);
  setenv("RANK", std::to_string(rank).c_str(), 1);
  setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
  setenv("WORLD_SIZE", world.c_str(), 1);
  setenv("LOCAL_WORLD_SIZE", world.c_str(), 1);
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
  setenv("IMRET_LAUNCHER", "imret --nproc-per-node", 1);  // for the workers' log line
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(launch.program.c_str(), argv.data());
  std::cerr << "imret: cannot run " << launch.program << " for rank " << rank << ": " << std::strerror(errno) << "\n";
  _exit(127);
}

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
  if (launch.processes < 1) throw Error("the number of processes must be at least 1");
  const int port = launch.master_port > 0 ? launch.master_port : free_loopback_port();
  std::map<pid_t, int> running;  // pid -> rank
  for (int rank = 0; rank < launch.processes; ++rank) running[start_worker(launch, rank, port)] = rank;
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
