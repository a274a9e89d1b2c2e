#pragma once
// The output-folder contract, used by every command that writes a folder
// (docs/reliability.md says what a user can rely on):
//
// - OutputFolder: the folder is built in a fresh hidden sibling
//   (.NAME.imret-staging-PID-N) and published by one atomic swap
//   (renameat2 RENAME_EXCHANGE), so a reader or a kill at any moment sees the
//   old folder or the new one, never a mix. Used for outputs made in one go:
//   embeddings, indexes, maps, reports, detections, datasets.
// - WorkFolder: a folder written in place over a long job whose partial state
//   is worth keeping (a training run, whose checkpoints --resume continues; an
//   experiment, whose finished rows are kept). Its files are each replaced
//   atomically, and units of several files carry their own pairing record
//   (see learn/checkpoint_unit.hpp).
//
// Both take an advisory lock (flock on the sibling .NAME.imret-lock) that a
// second writer of the same folder fails on, clean what killed writers left
// (staging folders, temporary files), never replace a folder that does not
// carry imret's marker of the same kind (.imret-folder.json) or that holds an
// input of the command, and mark the folder complete when done. Readers check
// the marker (check_folder_marker).
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace imret {

inline constexpr const char* kFolderMarker = ".imret-folder.json";

// What .imret-folder.json says.
struct FolderMarker {
  std::string kind;     // embeddings, index, run, demo, experiment, visualization, report, detections, coco
  bool complete = false;
  std::string command;  // the imret command that wrote it
  std::string imret_version;
  nlohmann::json details = nlohmann::json::object();  // kind-specific facts (e.g. a run's epochs)

  nlohmann::json to_json() const;
};

// FOLDER/.imret-folder.json, or nullopt when there is none. Error naming the
// file when it is malformed.
std::optional<FolderMarker> read_folder_marker(const std::filesystem::path& folder);

// For readers. A folder with a marker must be complete and of one of `kinds`
// (`what` names the kind for the message: "an embedding folder"); a folder
// without one is accepted: written by an older imret or by another tool.
void check_folder_marker(const std::filesystem::path& folder, const std::vector<std::string>& kinds,
                         const std::string& what);

// How a command's output folder may be written.
struct OutputRules {
  std::string kind;     // recorded in the marker
  std::string command;  // recorded in the marker
  // Whether an existing complete folder of the same kind may be replaced.
  bool replace = false;
  // What the user does to allow replacing (the caller's words, e.g. "pass --overwrite").
  std::string replace_hint;
  // The command's inputs: the output may be none of them, nor hold one.
  std::vector<std::filesystem::path> inputs;
  // Recognises a folder of this kind written before markers existed. Make it
  // strict (every entry one this kind writes: only_entries): the folder is
  // replaced whole.
  std::function<bool(const std::filesystem::path&)> legacy;
};

// An exclusive advisory lock on a folder (which need not exist yet): flock on
// the sibling .NAME.imret-lock, removed on release. Error naming the folder
// and the holder's pid when another process holds it.
class FolderLock {
 public:
  explicit FolderLock(const std::filesystem::path& folder);
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock();

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

class OutputFolder {
 public:
  // Checks the target against `rules`, locks it, removes what killed writers
  // left next to it, and creates the staging folder. Throws imret::Error (one
  // line naming the folder) when the target may not be written.
  OutputFolder(std::filesystem::path target, OutputRules rules);
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;
  // Not published: removes the staging folder; the target is untouched.
  ~OutputFolder();

  // Where to write (the staging folder until publish()).
  const std::filesystem::path& path() const { return staging_; }
  // Where the folder will be once published (absolute).
  const std::filesystem::path& target() const { return target_; }
  // Writes the marker (complete), swaps the staging folder into place and
  // removes the old folder. Releases the lock.
  void publish(const nlohmann::json& details = nlohmann::json::object());

 private:
  void open();

  std::filesystem::path target_;
  std::filesystem::path created_parents_;  // the topmost parent folder this object created
  std::filesystem::path staging_;
  OutputRules rules_;
  std::unique_ptr<FolderLock> lock_;
  bool published_ = false;
};

class WorkFolder {
 public:
  // Locks the target and opens it: creates it (marker incomplete) when it is
  // absent or an empty folder; an existing one must be of rules.kind (its
  // marker or rules.legacy). Removes temporary files and staging folders that
  // killed writers left inside. Throws imret::Error naming the folder.
  WorkFolder(std::filesystem::path target, OutputRules rules);
  WorkFolder(const WorkFolder&) = delete;
  WorkFolder& operator=(const WorkFolder&) = delete;
  // Not completed: a folder this object created and nothing was kept in is
  // removed; one that was there gets back the marker it had; otherwise it
  // stays, marked incomplete.
  ~WorkFolder();

  const std::filesystem::path& path() const { return target_; }
  bool created() const { return created_; }
  // Something worth keeping was written (a checkpoint): a later failure leaves the folder.
  void keep() { keep_ = true; }
  // Marks the folder complete. Releases the lock.
  void complete(const nlohmann::json& details = nlohmann::json::object());

 private:
  void open();

  std::filesystem::path target_;
  std::filesystem::path created_parents_;  // the topmost parent folder this object created
  OutputRules rules_;
  std::unique_ptr<FolderLock> lock_;
  std::optional<FolderMarker> previous_marker_;  // of a folder that was there
  bool created_ = false;
  bool was_empty_ = false;  // created in place of an empty folder
  bool keep_ = false;
  bool completed_ = false;
};

// True when every entry of `folder` (hidden names aside: imret's own
// temporary files) is one of `names` or a name ending in one of `suffixes`,
// and `required` is among them.
bool only_entries(const std::filesystem::path& folder, const std::vector<std::string>& names,
                  const std::vector<std::string>& suffixes = {}, const std::string& required = {});

// Removes, under `folder` (down to `depth` levels), the temporary files and
// staging folders of imret processes that no longer run.
void remove_stale_temporaries(const std::filesystem::path& folder, int depth);

}  // namespace imret
