#include "imret/core/atomic_file.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "imret/core/error.hpp"
#include "imret/core/fault_injection.hpp"

namespace imret {
namespace fs = std::filesystem;

namespace {
fs::path temp_name_for(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  std::ostringstream name;
  name << "." << target.filename().string() << ".tmp-" << ::getpid() << "-" << counter++;
  return target.parent_path() / name.str();
}

void make_parent(const fs::path& target) {
  const fs::path parent = target.parent_path();
  if (parent.empty()) return;
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) throw Error(parent.string() + ": cannot create directory: " + ec.message());
}

void rename_into_place(const fs::path& temp, const fs::path& target) {
  commit_point("file written");
  std::error_code ec;
  fs::rename(temp, target, ec);
  if (ec) {
    fs::remove(temp, ec);
    throw Error(target.string() + ": cannot write file: " + ec.message());
  }
  commit_point("file renamed into place");
}
}  // namespace

AtomicFile::AtomicFile(fs::path target, bool binary) : target_(std::move(target)) {
  make_parent(target_);
  temp_ = temp_name_for(target_);
  out_.open(temp_, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
  if (!out_) throw Error(target_.string() + ": cannot open for writing: " + std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (!committed_) {
    out_.close();
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void AtomicFile::commit() {
  out_.flush();
  const bool ok = static_cast<bool>(out_);
  out_.close();
  if (!ok) {
    std::error_code ec;
    fs::remove(temp_, ec);
    committed_ = true;
    throw Error(target_.string() + ": write failed (disk full?)");
  }
  rename_into_place(temp_, target_);
  committed_ = true;
}

void write_file_atomic(const fs::path& path, const std::string& content) {
  AtomicFile file(path);
  file.stream().write(content.data(), static_cast<std::streamsize>(content.size()));
  file.commit();
}

void write_via_temp(const fs::path& path, const std::function<void(const fs::path&)>& write) {
  make_parent(path);
  const fs::path temp = temp_name_for(path);
  try {
    write(temp);
  } catch (...) {
    std::error_code ec;
    fs::remove(temp, ec);
    throw;
  }
  rename_into_place(temp, path);
}

std::string read_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw Error(path.string() + ": no such file");
  if (fs::is_directory(path, ec)) throw Error(path.string() + ": is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw Error(path.string() + ": read error");
  return content.str();
}

}  // namespace imret
