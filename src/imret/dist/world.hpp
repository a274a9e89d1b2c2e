#pragma once
// Where this process stands in a distributed run: its rank among the
// world's processes and how to reach the others. Read from the environment
// that launchers set for their workers, as any PyTorch worker does:
//   torchrun (and imret train --nproc-per-node): RANK, WORLD_SIZE, LOCAL_RANK,
//     LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT;
//   Slurm (srun): SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
//     SLURM_NTASKS_PER_NODE, with MASTER_ADDR and MASTER_PORT set by the job
//     script (see docs/distributed.md).
// Torch-free.
#include <functional>
#include <string>

namespace imret::dist {

struct WorldInfo {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;        // the rank among this host's processes (its GPU on a multi-GPU host)
  int local_world_size = 1;  // processes on this host (0: unknown, Slurm without a per-node count)
  std::string master_addr = "127.0.0.1";  // where rank 0 keeps the rendezvous store
  int master_port = 29500;
  std::string launcher;  // "torchrun" (its variables), "imret --nproc-per-node", "slurm" or "" (one process)
  // torchrun's static rendezvous: its agent already keeps the store at
  // MASTER_ADDR:MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE=True); the workers
  // join it, under the prefix /worker/attempt_<TORCHELASTIC_RESTART_COUNT>.
  bool agent_store = false;
  int restart_count = 0;

  bool distributed() const { return world_size > 1; }
  // "rank 1/2 (local 1), rendezvous 127.0.0.1:29500, from torchrun"
  std::string describe() const;
};

// The world this process belongs to. RANK/WORLD_SIZE (torchrun's variables)
// win over Slurm's; neither: one process. imret::Error naming the variable
// for a missing, non-numeric or inconsistent value (a rank outside the world,
// a port outside 1..65535). `lookup` reads a variable (null when unset);
// the process environment by default.
WorldInfo world_from_environment(const std::function<const char*(const char*)>& lookup = {});

}  // namespace imret::dist
