#pragma once
// Where a query service keeps the images it was asked to add, so that the
// items it adds name a file of its own (never a path from a request): one
// file per distinct image in a folder beside the collection, named by a hash
// of its bytes, written whole (temporary file, fsync, rename) before the
// item that names it is saved. A kill leaves at most an unused file.
#include <filesystem>
#include <mutex>
#include <string>

namespace imret::serve {

class UploadStore {
 public:
  explicit UploadStore(std::filesystem::path folder) : folder_(std::move(folder)) {}

  // The absolute path of a file holding `bytes` (an image of `extension`,
  // "png", "jpg", ...), written now or found from an earlier upload of the
  // same bytes. Error naming the folder when it cannot be written.
  std::filesystem::path keep(const std::string& bytes, const std::string& extension);
  const std::filesystem::path& folder() const { return folder_; }

 private:
  std::filesystem::path folder_;
  std::mutex mutex_;
};

}  // namespace imret::serve
