#include "imret/serve/upload_store.hpp"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

namespace imret::serve {

namespace fs = std::filesystem;

namespace {

// FNV-1a, 64 bits: a name, not a security measure (an existing file is
// compared byte for byte before it is reused).
uint64_t fnv1a(const std::string& bytes) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

bool holds(const fs::path& file, const std::string& bytes) {
  std::error_code error;
  if (fs::file_size(file, error) != bytes.size() || error) return false;
  std::ifstream in(file, std::ios::binary);
  const std::string existing((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return existing == bytes;
}

}  // namespace

fs::path UploadStore::keep(const std::string& bytes, const std::string& extension) {
  const std::lock_guard<std::mutex> lock(mutex_);
  char name[32];
  std::snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(fnv1a(bytes)));
  std::error_code error;
  fs::create_directories(folder_, error);
  if (error) throw Error(folder_.string() + ": cannot create the folder for added images (" + error.message() + ")");
  const fs::path base = fs::absolute(folder_);
  for (int n = 1;; ++n) {
    const fs::path file = base / (std::string(name) + (n == 1 ? "" : "-" + std::to_string(n)) + "." + extension);
    if (!fs::exists(file)) {
      write_file_atomic(file, bytes);
      return file;
    }
    if (holds(file, bytes)) return file;
  }
}

}  // namespace imret::serve
