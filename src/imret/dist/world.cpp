#include "imret/dist/world.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <optional>

#include "imret/core/error.hpp"

namespace imret::dist {
namespace {

class Environment {
 public:
  explicit Environment(const std::function<const char*(const char*)>& lookup) : lookup_(lookup) {}

  bool has(const char* name) const { return get(name) != nullptr; }

  const char* get(const char* name) const {
    const char* value = lookup_ ? lookup_(name) : std::getenv(name);
    return value != nullptr && *value != '\0' ? value : nullptr;
  }

  std::optional<int> integer(const char* name) const {
    const char* text = get(name);
    if (text == nullptr) return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || value < 0 || value > 1000000)
      throw Error(std::string("environment variable ") + name + "='" + text + "': not a non-negative integer");
    return static_cast<int>(value);
  }

  int required(const char* name, const char* needed_by) const {
    std::optional<int> value = integer(name);
    if (!value) throw Error(std::string("environment variable ") + name + " is not set (" + needed_by + " sets it)");
    return *value;
  }

 private:
  const std::function<const char*(const char*)>& lookup_;
};

void check(const WorldInfo& w, const char* rank_variable, const char* size_variable) {
  if (w.world_size < 1) throw Error(std::string("environment variable ") + size_variable + " must be at least 1");
  if (w.rank >= w.world_size)
    throw Error(std::string("environment variable ") + rank_variable + "=" + std::to_string(w.rank) +
                " is outside the world of " + std::to_string(w.world_size) + " processes");
  if (w.local_rank >= w.local_world_size && w.local_world_size > 0)
    throw Error("the local rank " + std::to_string(w.local_rank) + " is outside the " +
                std::to_string(w.local_world_size) + " local processes");
  if (w.master_port < 1 || w.master_port > 65535)
    throw Error("environment variable MASTER_PORT=" + std::to_string(w.master_port) + " is not a port (1-65535)");
}

}  // namespace

std::string WorldInfo::describe() const {
  return "rank " + std::to_string(rank) + "/" + std::to_string(world_size) + " (local " + std::to_string(local_rank) +
         "/" + (local_world_size > 0 ? std::to_string(local_world_size) : std::string("?")) + "), rendezvous " + master_addr + ":" + std::to_string(master_port) +
         (launcher.empty() ? "" : ", from " + launcher);
}

WorldInfo world_from_environment(const std::function<const char*(const char*)>& lookup) {
  const Environment env(lookup);
  WorldInfo w;
  const bool torchrun = env.has("RANK") || env.has("WORLD_SIZE");
  const bool slurm = !torchrun && env.has("SLURM_PROCID") && env.has("SLURM_NTASKS");
  if (!torchrun && !slurm) return w;
  if (torchrun) {
    const char* ours = env.get("IMRET_LAUNCHER");
    w.launcher = ours != nullptr ? ours : "torchrun";
    w.rank = env.required("RANK", "torchrun");
    w.world_size = env.required("WORLD_SIZE", "torchrun");
    w.local_rank = env.integer("LOCAL_RANK").value_or(w.rank);
    w.local_world_size = env.integer("LOCAL_WORLD_SIZE").value_or(w.world_size);
    const char* agent = env.get("TORCHELASTIC_USE_AGENT_STORE");
    w.agent_store = agent != nullptr && std::string(agent) == "True";
    w.restart_count = env.integer("TORCHELASTIC_RESTART_COUNT").value_or(0);
  } else {
    w.launcher = "slurm";
    w.rank = env.required("SLURM_PROCID", "srun");
    w.world_size = env.required("SLURM_NTASKS", "srun");
    w.local_rank = env.integer("SLURM_LOCALID").value_or(0);
    // SLURM_NTASKS_PER_NODE (only with --ntasks-per-node) reads "4";
    // SLURM_TASKS_PER_NODE "4(x2)" or "4,3": the leading number, this
    // node's when nodes are alike. Neither: unknown (0), not checked.
    const char* per_node = env.get("SLURM_NTASKS_PER_NODE");
    if (per_node == nullptr) per_node = env.get("SLURM_TASKS_PER_NODE");
    w.local_world_size = per_node != nullptr ? std::max(0, std::atoi(per_node)) : 0;
  }
  if (w.world_size > 1) {
    const char* addr = env.get("MASTER_ADDR");
    if (addr == nullptr)
      throw Error("environment variable MASTER_ADDR is not set: the host of rank 0, where the ranks meet" +
                  std::string(slurm ? " (set it in the job script; docs/distributed.md)" : ""));
    w.master_addr = addr;
    w.master_port = env.required("MASTER_PORT", slurm ? "the job script" : "torchrun");
  } else {
    if (const char* addr = env.get("MASTER_ADDR")) w.master_addr = addr;
    w.master_port = env.integer("MASTER_PORT").value_or(w.master_port);
  }
  check(w, slurm ? "SLURM_PROCID" : "RANK", slurm ? "SLURM_NTASKS" : "WORLD_SIZE");
  return w;
}

}  // namespace imret::dist
