#include "imret/learn/checkpoint_unit.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>
#include <unistd.h>

#include <random>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/fault_injection.hpp"

namespace imret::learn {
namespace fs = std::filesystem;

namespace {

constexpr const char* kUnitKey = "imret_resume_unit";
constexpr const char* kEpochKey = "imret_epoch";

fs::path previous_state_path(const fs::path& checkpoint) {
  const fs::path state = optimizer_state_path(checkpoint);
  return state.parent_path() / ("." + checkpoint.stem().string() + ".optim.prev.pt");
}

// The pre-unit file of the loss's tensors: last.safetensors -> last.objective.pt.
fs::path legacy_objective_path(const fs::path& checkpoint) {
  fs::path path = checkpoint;
  return path.replace_extension(".objective.pt");
}

std::string fresh_unit_id() {
  std::random_device device;
  std::mt19937_64 rng((static_cast<uint64_t>(device()) << 32) ^ device() ^ static_cast<uint64_t>(::getpid()));
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(rng()));
  return text;
}

torch::Tensor text_tensor(const std::string& text) {
  return torch::from_blob(const_cast<char*>(text.data()), {static_cast<int64_t>(text.size())}, torch::kUInt8).clone();
}

std::string tensor_text(const torch::Tensor& tensor) {
  const torch::Tensor bytes = tensor.to(torch::kUInt8).contiguous();
  return std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), static_cast<size_t>(bytes.numel()));
}

struct SavedState {
  std::string unit;  // empty: none recorded
  int64_t epoch = -1;
};

// Reads the archive's unit id and epoch (cheap: the optimizer is not loaded).
SavedState read_unit(torch::serialize::InputArchive& archive) {
  SavedState state;
  torch::Tensor unit, epoch;  // one tensor each: try_read into a set tensor would alias its storage
  if (archive.try_read(kUnitKey, unit)) state.unit = tensor_text(unit);
  if (archive.try_read(kEpochKey, epoch)) state.epoch = epoch.item<int64_t>();
  return state;
}

void load_archive(torch::serialize::InputArchive& archive, const fs::path& path) {
  try {
    archive.load_from(path.string());
  } catch (const c10::Error& e) {
    const std::string text = e.what_without_backtrace();
    throw Error(path.string() + ": not a readable optimizer state (" + text.substr(0, text.find('\n')) + ")");
  }
}

void load_objective_tensors(torch::serialize::InputArchive& archive, const fs::path& path,
                            std::vector<torch::Tensor>& own) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < own.size(); ++i) {
    torch::Tensor saved;
    if (!archive.try_read("imret_objective_" + std::to_string(i), saved))
      throw Error(path.string() + ": holds " + std::to_string(i) + " of the loss's " + std::to_string(own.size()) +
                  " trained tensors");
    if (saved.sizes() != own[i].sizes()) throw Error(path.string() + ": a trained tensor of the loss has the wrong shape");
    own[i].copy_(saved);
  }
}

// The loss's tensors of a checkpoint written before resume units: last.objective.pt.
void load_legacy_objective(const fs::path& checkpoint, std::vector<torch::Tensor>& own) {
  if (own.empty()) return;
  const fs::path path = legacy_objective_path(checkpoint);
  if (!fs::exists(path)) throw Error(path.string() + ": no such file (the loss's trained tensors, needed to resume)");
  std::vector<torch::Tensor> saved;
  torch::load(saved, path.string());
  if (saved.size() != own.size())
    throw Error(path.string() + ": holds " + std::to_string(saved.size()) + " tensors, the loss has " +
                std::to_string(own.size()));
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < own.size(); ++i) {
    if (saved[i].sizes() != own[i].sizes()) throw Error(path.string() + ": a tensor has the wrong shape");
    own[i].copy_(saved[i]);
  }
}

}  // namespace

fs::path optimizer_state_path(const fs::path& checkpoint) {
  fs::path path = checkpoint;
  return path.replace_extension(".optim.pt");
}

void save_resume_unit(const fs::path& checkpoint, models::Network& network, models::CheckpointInfo& info,
                      torch::optim::Optimizer& optimizer, const std::vector<torch::Tensor>& objective_tensors) {
  info.resume_unit = fresh_unit_id();
  const fs::path state = optimizer_state_path(checkpoint);
  const fs::path previous = previous_state_path(checkpoint);
  const fs::path fresh = state.parent_path() / ("." + state.filename().string() + ".new");
  // 1. The new state, complete, under a name of its own.
  torch::serialize::OutputArchive archive;
  optimizer.save(archive);
  archive.write(kUnitKey, text_tensor(info.resume_unit));
  archive.write(kEpochKey, torch::tensor(info.epoch, torch::kLong));
  for (size_t i = 0; i < objective_tensors.size(); ++i)
    archive.write("imret_objective_" + std::to_string(i), objective_tensors[i].detach().to(torch::kCPU));
  write_via_temp(fresh, [&](const fs::path& temp) { archive.save_to(temp.string()); });
  std::error_code ec;
  // 2. The state of the checkpoint still in place stays reachable as .prev
  // (until now the state in place belongs to the checkpoint in place).
  if (fs::exists(state)) {
    fs::remove(previous, ec);
    fs::create_hard_link(state, previous, ec);
    if (ec) fs::copy_file(state, previous, fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error(previous.string() + ": cannot keep the previous optimizer state: " + ec.message());
    commit_point("previous optimizer state kept");
  }
  // 3. The new state, then 4. the checkpoint it belongs to.
  fs::rename(fresh, state, ec);
  if (ec) throw Error(state.string() + ": cannot write the optimizer state: " + ec.message());
  commit_point("optimizer state in place");
  models::save_checkpoint(checkpoint, network, info);
  fs::remove(previous, ec);
  fs::remove(legacy_objective_path(checkpoint), ec);  // now inside the state file
}

void load_resume_unit(const fs::path& checkpoint, const models::CheckpointInfo& info,
                      torch::optim::Optimizer& optimizer, std::vector<torch::Tensor>& objective_tensors) {
  std::string found;  // what the candidates hold, for the message
  // Where the state may be: STEM.optim.pt, or .STEM.optim.prev.pt (to be put
  // back in place once used). best.safetensors of the last epoch shares
  // last's unit: its state is last's.
  std::vector<std::pair<fs::path, fs::path>> candidates;  // {file, where it belongs}
  std::vector<fs::path> owners = {checkpoint};
  if (checkpoint.filename() != "last.safetensors") owners.push_back(checkpoint.parent_path() / "last.safetensors");
  for (const fs::path& owner : owners) {
    candidates.emplace_back(optimizer_state_path(owner), optimizer_state_path(owner));
    candidates.emplace_back(previous_state_path(owner), optimizer_state_path(owner));
  }
  for (const auto& [path, in_place] : candidates) {
    if (!fs::exists(path)) continue;
    torch::serialize::InputArchive archive;
    load_archive(archive, path);
    const SavedState saved = read_unit(archive);
    // Without ids (both written before resume units) only the checkpoint's own state file pairs with it.
    if (saved.unit == info.resume_unit && (!saved.unit.empty() || in_place == optimizer_state_path(checkpoint))) {
      if (saved.unit.empty()) {
        spdlog::warn("{}: written by an older imret without a pairing record: its optimizer state is taken as it is",
                     checkpoint.string());
        load_legacy_objective(checkpoint, objective_tensors);
      } else {
        load_objective_tensors(archive, path, objective_tensors);
      }
      optimizer.load(archive);
      // A kill left the checkpoint's state as .prev: make it the state again,
      // so that the next save keeps it (not the orphan) while it writes.
      if (path != in_place) {
        std::error_code ec;
        fs::rename(path, in_place, ec);
        if (ec) throw Error(in_place.string() + ": cannot restore the optimizer state: " + ec.message());
      }
      return;
    }
    found += (found.empty() ? "" : "; ") + path.filename().string() + " is " +
             (saved.epoch >= 0 ? "from epoch " + std::to_string(saved.epoch) : std::string("from an older imret"));
  }
  if (found.empty()) {
    if (info.resume_unit.empty() && objective_tensors.empty()) {  // an untrained (--epochs 0) or older checkpoint
      spdlog::warn("{}: no optimizer state next to the checkpoint; the optimizer starts afresh",
                   optimizer_state_path(checkpoint).string());
      return;
    }
    throw Error(checkpoint.string() + ": no optimizer state belongs to this checkpoint (" +
                optimizer_state_path(checkpoint).filename().string() +
                " is missing): resume from the run's last.safetensors, or start a new run from it as weights");
  }
  throw Error(checkpoint.string() + ": an epoch " + std::to_string(info.epoch) + " checkpoint, but " + found +
              ": they were not saved together (resume from the run's last.safetensors)");
}

}  // namespace imret::learn
