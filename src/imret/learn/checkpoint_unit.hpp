#pragma once
// A run's resume point as one unit: the network checkpoint
// (checkpoints/last.safetensors, models/checkpoint.hpp) and the state that
// training continues with (last.optim.pt: the optimizer's state and the
// loss's own trained tensors, e.g. proxy-anchor's proxies). Both record the
// same unit id. The files cannot be replaced together in one rename, so:
// the new state is written first, the previous state is kept as
// .last.optim.prev.pt until the new checkpoint is in place, and a resume
// takes the state whose id matches the checkpoint. A kill at any moment
// leaves a matching pair; a pair that does not match is refused. (A resume
// that found its state as .prev renames it back, so that the state in place
// always belongs to the checkpoint in place when the next unit is saved.)
#include <filesystem>
#include <vector>

#include "imret/models/checkpoint.hpp"

namespace torch::optim {
class Optimizer;
}

namespace imret::learn {

// The optimizer state file of a checkpoint: last.safetensors -> last.optim.pt.
std::filesystem::path optimizer_state_path(const std::filesystem::path& checkpoint);

// Saves the unit; `info.resume_unit` is set to its fresh id. The network is
// saved as it is (move it to the CPU first).
void save_resume_unit(const std::filesystem::path& checkpoint, models::Network& network, models::CheckpointInfo& info,
                      torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& objective_tensors);

// Loads into `optimizer` and `objective_tensors` the state that belongs to
// `checkpoint` (whose description is `info`). Throws imret::Error naming the
// files when no state file belongs to it, or when the loss's tensors differ
// in number or shape. A checkpoint written before units existed takes the
// state files next to it as they are, with a warning.
void load_resume_unit(const std::filesystem::path& checkpoint, const models::CheckpointInfo& info,
                      torch::optim::Optimizer& optimizer, std::vector<torch::Tensor>& objective_tensors);

}  // namespace imret::learn
