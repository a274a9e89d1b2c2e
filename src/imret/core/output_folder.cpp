#include "imret/core/output_folder.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <regex>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/fault_injection.hpp"
#include "imret/core/version.hpp"

namespace imret {
namespace fs = std::filesystem;

namespace {

constexpr const char* kMarkerFormat = "imret-folder-1";

// An absolute, normal path without a trailing separator.
fs::path normal_target(const fs::path& target) {
  if (target.empty()) throw Error("no output folder given");
  fs::path normal = fs::absolute(target).lexically_normal();
  if (!normal.has_filename()) normal = normal.parent_path();
  if (normal == normal.root_path() || normal.filename() == "..")
    throw Error(target.string() + ": not usable as an output folder");
  return normal;
}

// A hidden sibling name for `target`: .NAME.imret-TAG-PID-RANDOM.
fs::path sibling(const fs::path& target, const char* tag) {
  static std::random_device device;
  for (;;) {
    fs::path candidate = target.parent_path() / ("." + target.filename().string() + ".imret-" + tag + "-" +
                                                 std::to_string(::getpid()) + "-" + std::to_string(device() % 1000000));
    std::error_code ec;
    if (!fs::exists(candidate, ec)) return candidate;
  }
}

bool process_alive(long pid) { return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM); }

// The pid in an imret temporary name (.NAME.tmp-PID-N, .NAME.imret-staging-PID-N), or 0.
long temporary_owner(const std::string& name) {
  static const std::regex pattern(R"(^\..+\.(tmp|imret-staging)-([0-9]+)-[0-9]+$)");
  std::smatch match;
  if (!std::regex_match(name, match, pattern)) return 0;
  return std::strtol(match[2].str().c_str(), nullptr, 10);
}

void fsync_directory(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// renameat2 with a flag; false when the file system cannot do it (then the caller falls back).
bool rename_with(const fs::path& from, const fs::path& to, unsigned flags, const fs::path& target) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags) == 0) return true;
  if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) return false;
  throw Error(target.string() + ": cannot put the new folder in place: " + std::strerror(errno));
}

void rename_or_throw(const fs::path& from, const fs::path& to, const fs::path& target) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) throw Error(target.string() + ": cannot put the new folder in place: " + ec.message());
}

// Creates the target's missing parent folders; returns the topmost one
// created (empty when none was), so that a failed command can remove them.
fs::path create_parents(const fs::path& target) {
  fs::path top;
  for (fs::path p = target.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
    std::error_code ec;
    if (fs::exists(p, ec)) break;
    top = p;
  }
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  if (ec) throw Error(target.parent_path().string() + ": cannot create folder: " + ec.message());
  return top;
}

// Removes the parents create_parents made, as far as they are empty.
void remove_created_parents(const fs::path& target, const fs::path& top) {
  if (top.empty()) return;
  for (fs::path p = target.parent_path(); p.string().size() >= top.string().size(); p = p.parent_path()) {
    std::error_code ec;
    if (!fs::remove(p, ec)) return;  // not empty (or gone)
    if (p == top) return;
  }
}

bool is_empty_folder(const fs::path& folder) {
  std::error_code ec;
  return fs::is_directory(folder, ec) && fs::is_empty(folder, ec);
}

void write_marker(const fs::path& folder, const FolderMarker& marker) {
  write_file_atomic(folder / kFolderMarker, marker.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
}

// "an embedding folder": a kind in a message.
std::string with_article(const std::string& kind) {
  static const std::map<std::string, std::string> names = {
      {"embeddings", "an embedding folder"}, {"index", "an index"},          {"run", "a run"},
      {"demo", "a demo run"},                {"experiment", "an experiment"}, {"visualization", "a visualization"},
      {"report", "a report"},                {"detections", "a detections folder"}, {"coco", "a COCO dataset"}};
  const auto name = names.find(kind);
  if (name != names.end()) return name->second;
  const bool vowel = !kind.empty() && std::string("aeiou").find(kind[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + kind;
}

// The output may be none of the inputs and may hold none of them.
void check_inputs(const fs::path& target, const std::vector<fs::path>& inputs) {
  std::error_code ec;
  const fs::path canonical_target = fs::weakly_canonical(target, ec);
  for (const fs::path& input : inputs) {
    if (input.empty()) continue;
    const fs::path canonical_input = fs::weakly_canonical(fs::absolute(input), ec);
    auto t = canonical_target.begin();
    auto i = canonical_input.begin();
    for (; t != canonical_target.end() && i != canonical_input.end() && *t == *i; ++t, ++i) {
    }
    const bool holds = t == canonical_target.end() || (t->empty() && std::next(t) == canonical_target.end());
    if (holds)
      throw Error(target.string() + ": holds an input of this command (" + input.string() +
                  "): write the output to another folder");
  }
}

// Removes what writers of `target` that were killed left next to it (the
// caller holds the lock, so no live writer has any): staging folders, and old
// folders of an interrupted swap, which are put back when the target is missing.
void clean_siblings(const fs::path& target) {
  const std::string prefix = "." + target.filename().string() + ".imret-";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    std::error_code ignored;
    if (rest.rfind("old-", 0) == 0 && !fs::exists(target, ignored)) {
      fs::rename(entry.path(), target, ignored);  // an interrupted swap: the old folder is the last good one
    } else if (rest.rfind("staging-", 0) == 0 || rest.rfind("old-", 0) == 0) {
      fs::remove_all(entry.path(), ignored);
    }
  }
  // imret 0.1's index writer swapped with .NAME.old-N / .NAME.new-N and could
  // strand the old index there: put it back.
  const std::string old_prefix = "." + target.filename().string() + ".";
  for (const auto& entry : fs::directory_iterator(target.parent_path(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(old_prefix, 0) != 0) continue;
    const std::string rest = name.substr(old_prefix.size());
    const bool numbered = rest.size() > 4 && rest.find_first_not_of("0123456789", 4) == std::string::npos;
    std::error_code ignored;
    if (numbered && rest.rfind("old-", 0) == 0 && !fs::exists(target, ignored))
      fs::rename(entry.path(), target, ignored);
    else if (numbered && (rest.rfind("new-", 0) == 0 || rest.rfind("old-", 0) == 0))
      fs::remove_all(entry.path(), ignored);
  }
}

enum class TargetState { Absent, Empty, SameKind, SameKindIncomplete };

// Another imret output kept inside a folder (an index built into EMB/index)
// would go with it: refused, except the views derived from the folder itself
// (imret visualize's maps, imret report's page).
void check_nested_outputs(const fs::path& target) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(target, ec)) {
    if (!entry.is_directory(ec) || entry.is_symlink(ec)) continue;
    std::optional<FolderMarker> inner;
    try {
      inner = read_folder_marker(entry.path());
    } catch (const Error&) {
      continue;
    }
    if (inner && inner->kind != "visualization" && inner->kind != "report")
      throw Error(target.string() + ": holds " + with_article(inner->kind) + " (" + entry.path().filename().string() +
                  "), which replacing the folder would delete: move it out first");
  }
}

// What is at `target`, or an Error when it may not be touched at all.
TargetState inspect_target(const fs::path& target, const OutputRules& rules) {
  std::error_code ec;
  const fs::file_status status = fs::symlink_status(target, ec);
  if (!fs::exists(status)) return TargetState::Absent;
  if (fs::is_symlink(status) || !fs::is_directory(status))
    throw Error(target.string() + ": exists and is not a folder");
  if (is_empty_folder(target)) return TargetState::Empty;
  const std::optional<FolderMarker> marker = read_folder_marker(target);
  if (marker) {
    if (marker->kind != rules.kind)
      throw Error(target.string() + ": holds " + with_article(marker->kind) + " (written by imret " + marker->command +
                  "), not " + with_article(rules.kind) + ": write the output to another folder");
    return marker->complete ? TargetState::SameKind : TargetState::SameKindIncomplete;
  }
  if (rules.legacy && rules.legacy(target)) return TargetState::SameKind;
  throw Error(target.string() + ": is not empty and was not written by imret (it has no " + kFolderMarker +
              "): write the output to another folder, or empty it");
}

}  // namespace

nlohmann::json FolderMarker::to_json() const {
  return {{"format", kMarkerFormat}, {"kind", kind},
          {"complete", complete},    {"command", command},
          {"imret_version", imret_version.empty() ? kVersion : imret_version},
          {"details", details}};
}

std::optional<FolderMarker> read_folder_marker(const fs::path& folder) {
  const fs::path path = folder / kFolderMarker;
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  FolderMarker marker;
  try {
    const nlohmann::json json = nlohmann::json::parse(read_file(path));
    if (!json.is_object() || json.value("format", std::string()) != kMarkerFormat)
      throw Error(path.string() + ": not an imret folder marker (expected \"format\": \"" + kMarkerFormat + "\")");
    marker.kind = json.at("kind").get<std::string>();
    marker.complete = json.at("complete").get<bool>();
    marker.command = json.value("command", std::string());
    marker.imret_version = json.value("imret_version", std::string());
    marker.details = json.value("details", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": malformed folder marker: " + e.what());
  }
  return marker;
}

void check_folder_marker(const fs::path& folder, const std::vector<std::string>& kinds, const std::string& what) {
  const std::optional<FolderMarker> marker = read_folder_marker(folder);
  if (!marker) return;
  if (std::find(kinds.begin(), kinds.end(), marker->kind) == kinds.end())
    throw Error(folder.string() + ": holds " + with_article(marker->kind) + " (written by imret " + marker->command +
                "), not " + what);
  if (!marker->complete)
    throw Error(folder.string() + ": is incomplete (imret " + marker->command +
                " did not finish writing it): write it again");
}

FolderLock::FolderLock(const fs::path& folder) {
  path_ = folder.parent_path() / ("." + folder.filename().string() + ".imret-lock");
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw Error(folder.string() + ": cannot create the lock file " + path_.string() + ": " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      char holder[32] = {0};
      const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
      ::close(fd_);
      fd_ = -1;
      if (error != EWOULDBLOCK) throw Error(folder.string() + ": cannot lock: " + std::strerror(error));
      const std::string pid = n > 0 ? std::string(holder, static_cast<size_t>(n)) : std::string("?");
      throw Error(folder.string() + ": another imret process (pid " + pid.substr(0, pid.find('\n')) +
                  ") is writing this folder: wait for it to finish, or write to another folder");
    }
    // The file may have been removed by the holder that just released it: lock the one at the path.
    struct stat held {}, named {};
    if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev) {
      const std::string pid = std::to_string(::getpid()) + "\n";
      if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, pid.data(), pid.size(), 0) < 0) {
        // the pid is only for the message of a second writer
      }
      return;
    }
    ::close(fd_);
    fd_ = -1;
  }
  throw Error(folder.string() + ": cannot lock (the lock file keeps changing)");
}

FolderLock::~FolderLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);
}

OutputFolder::OutputFolder(fs::path target, OutputRules rules) : target_(normal_target(target)), rules_(std::move(rules)) {
  check_inputs(target_, rules_.inputs);
  created_parents_ = create_parents(target_);
  try {
    open();
  } catch (...) {
    lock_.reset();
    remove_created_parents(target_, created_parents_);
    throw;
  }
}

void OutputFolder::open() {
  std::error_code ec;
  lock_ = std::make_unique<FolderLock>(target_);
  clean_siblings(target_);
  const TargetState state = inspect_target(target_, rules_);
  if (state == TargetState::SameKind && !rules_.replace)
    throw Error(target_.string() + ": already holds " + with_article(rules_.kind) +
                (rules_.replace_hint.empty() ? std::string(": write to another folder") : "; " + rules_.replace_hint +
                                                                                              " to replace it"));
  if (state == TargetState::SameKind || state == TargetState::SameKindIncomplete) check_nested_outputs(target_);
  staging_ = sibling(target_, "staging");
  fs::create_directory(staging_, ec);
  if (ec) throw Error(target_.string() + ": cannot create the staging folder " + staging_.string() + ": " + ec.message());
}

OutputFolder::~OutputFolder() {
  if (published_ || staging_.empty()) return;
  std::error_code ignored;
  fs::remove_all(staging_, ignored);
  lock_.reset();
  remove_created_parents(target_, created_parents_);
}

void OutputFolder::publish(const nlohmann::json& details) {
  if (published_) throw Error(target_.string() + ": published twice");
  FolderMarker marker{rules_.kind, true, rules_.command, kVersion, details};
  write_marker(staging_, marker);
  commit_point("output folder complete in staging");
  std::error_code ec;
  if (fs::exists(fs::symlink_status(target_, ec))) {
    if (rename_with(staging_, target_, RENAME_EXCHANGE, target_)) {
      commit_point("output folder swapped in");
      fs::remove_all(staging_, ec);  // now the old folder
    } else {  // no atomic swap here: move the old folder aside (put back at the next start if killed)
      const fs::path old = sibling(target_, "old");
      rename_or_throw(target_, old, target_);
      commit_point("old output folder moved aside");
      try {
        rename_or_throw(staging_, target_, target_);
      } catch (...) {
        fs::rename(old, target_, ec);
        throw;
      }
      commit_point("output folder moved in");
      // Renamed to a staging name first: a half-removed old folder is never put back.
      const fs::path doomed = sibling(target_, "staging");
      fs::rename(old, doomed, ec);
      fs::remove_all(ec ? old : doomed, ec);
    }
  } else {
    if (!rename_with(staging_, target_, RENAME_NOREPLACE, target_)) rename_or_throw(staging_, target_, target_);
    commit_point("output folder moved in");
  }
  fsync_directory(target_.parent_path());
  published_ = true;
  lock_.reset();
}

WorkFolder::WorkFolder(fs::path target, OutputRules rules) : target_(normal_target(target)), rules_(std::move(rules)) {
  check_inputs(target_, rules_.inputs);
  created_parents_ = create_parents(target_);
  try {
    open();
  } catch (...) {
    lock_.reset();
    remove_created_parents(target_, created_parents_);
    throw;
  }
}

void WorkFolder::open() {
  std::error_code ec;
  lock_ = std::make_unique<FolderLock>(target_);
  clean_siblings(target_);
  const TargetState state = inspect_target(target_, rules_);
  FolderMarker marker{rules_.kind, false, rules_.command, kVersion, nlohmann::json::object()};
  if (state == TargetState::Absent || state == TargetState::Empty) {
    // Created whole, marker first, so that it is never there unmarked.
    const fs::path staging = sibling(target_, "staging");
    fs::create_directory(staging, ec);
    if (ec) throw Error(target_.string() + ": cannot create folder: " + ec.message());
    try {
      write_marker(staging, marker);
      if (state == TargetState::Empty) fs::remove(target_, ec);
      rename_or_throw(staging, target_, target_);
    } catch (...) {
      fs::remove_all(staging, ec);
      throw;
    }
    created_ = true;
    was_empty_ = state == TargetState::Empty;
    commit_point("work folder created");
  } else {
    previous_marker_ = read_folder_marker(target_);
    if (previous_marker_) marker.details = previous_marker_->details;
    write_marker(target_, marker);
    remove_stale_temporaries(target_, 3);
  }
}

WorkFolder::~WorkFolder() {
  if (completed_) return;
  if (!created_) {  // a job that failed in a folder that was there: its marker as it was
    if (previous_marker_) {
      try {
        write_marker(target_, *previous_marker_);
      } catch (const std::exception&) {
      }
    }
    return;
  }
  if (keep_) return;
  std::error_code ignored;
  fs::remove_all(target_, ignored);
  if (was_empty_) fs::create_directory(target_, ignored);  // as it was: the user's empty folder
  lock_.reset();
  remove_created_parents(target_, created_parents_);
}

void WorkFolder::complete(const nlohmann::json& details) {
  keep_ = true;  // whatever happens now, what the job wrote stays
  write_marker(target_, FolderMarker{rules_.kind, true, rules_.command, kVersion, details});
  completed_ = true;
  lock_.reset();
}

bool only_entries(const fs::path& folder, const std::vector<std::string>& names, const std::vector<std::string>& suffixes,
                  const std::string& required) {
  std::error_code ec;
  bool found_required = required.empty();
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    found_required = found_required || name == required;
    const bool named = std::find(names.begin(), names.end(), name) != names.end();
    const bool suffixed = std::any_of(suffixes.begin(), suffixes.end(), [&](const std::string& suffix) {
      return name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    });
    if (!named && !suffixed) return false;
  }
  return !ec && found_required;
}

void remove_stale_temporaries(const fs::path& folder, int depth) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    std::error_code ignored;
    const long owner = temporary_owner(name);
    if (owner > 0) {
      // Temporary files only: a staging folder is cleaned by the next writer of its own target, under its lock.
      if (!entry.is_directory(ignored) && !process_alive(owner)) fs::remove(entry.path(), ignored);
    } else if (depth > 1 && entry.is_directory(ignored) && !entry.is_symlink(ignored)) {
      remove_stale_temporaries(entry.path(), depth - 1);
    }
  }
}

}  // namespace imret
