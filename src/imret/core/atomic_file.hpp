#pragma once
// Atomic file writes: content goes to a temporary file next to the target and
// is renamed into place only when complete, so a crash or an error never
// leaves a half-written file where a good one was (or should be).
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

namespace imret {

class AtomicFile {
 public:
  // Creates the parent directories of `target` and opens a temporary file.
  explicit AtomicFile(std::filesystem::path target, bool binary = true);
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  // Removes the temporary file unless commit() succeeded.
  ~AtomicFile();

  std::ofstream& stream() { return out_; }
  const std::filesystem::path& target() const { return target_; }
  // Flushes, checks for write errors and renames the temporary onto the target.
  void commit();

 private:
  std::filesystem::path target_;
  std::filesystem::path temp_;
  std::ofstream out_;
  bool committed_ = false;
};

// Writes `content` to `path` atomically.
void write_file_atomic(const std::filesystem::path& path, const std::string& content);

// For writers that insist on a path (torch::save, ...): `write(temp_path)`
// writes the whole file, then it is renamed onto `path`. On an exception the
// temporary file is removed and the exception propagates.
void write_via_temp(const std::filesystem::path& path,
                    const std::function<void(const std::filesystem::path&)>& write);

// Reads a whole file; throws imret::Error naming the file when it cannot.
std::string read_file(const std::filesystem::path& path);

}  // namespace imret
