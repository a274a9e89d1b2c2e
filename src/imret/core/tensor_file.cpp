#include "imret/core/tensor_file.hpp"

#include <c10/util/Exception.h>

#include <fstream>

#include "imret/core/error.hpp"
#include "imret/core/pth.hpp"
#include "imret/core/zip_archive.hpp"

namespace imret {

const char* tensor_file_format_name(TensorFileFormat format) {
  switch (format) {
    case TensorFileFormat::PthZip: return "pth-zip";
    case TensorFileFormat::PthLegacy: return "pth-legacy";
    case TensorFileFormat::Safetensors: return "safetensors";
    case TensorFileFormat::Unknown: return "unknown";
  }
  return "unknown";
}

TensorFileFormat sniff_tensor_file_format(std::string_view head) {
  if (looks_like_zip(head)) return TensorFileFormat::PthZip;
  if (looks_like_legacy_pth(head)) return TensorFileFormat::PthLegacy;
  if (head.size() >= 9 && head[8] == '{') {
    uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | static_cast<unsigned char>(head[static_cast<size_t>(i)]);
    if (length >= 2 && length < (uint64_t{1} << 40)) return TensorFileFormat::Safetensors;
  }
  return TensorFileFormat::Unknown;
}

TensorFileFormat detect_tensor_file_format(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(path.string() + ": is a folder, not a weight file");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (!std::filesystem::exists(path, ec)) throw Error(path.string() + ": no such file");
    throw Error(path.string() + ": cannot open for reading");
  }
  char buffer[64];
  in.read(buffer, sizeof buffer);
  return sniff_tensor_file_format(std::string_view(buffer, static_cast<size_t>(in.gcount())));
}

TensorFile load_tensor_file(const std::filesystem::path& path) {
  switch (detect_tensor_file_format(path)) {
    case TensorFileFormat::PthZip:
    case TensorFileFormat::PthLegacy: return load_pth(path);
    case TensorFileFormat::Safetensors:
      try {
        return load_safetensors(path);
      } catch (const c10::Error& e) {
        // A header LibTorch rejects (sizes whose product overflows...): one line, naming the file.
        std::string what = e.what_without_backtrace();
        what = what.substr(0, what.find('\n'));
        throw Error(path.string() + ": malformed safetensors file: " + what);
      }
    case TensorFileFormat::Unknown: break;
  }
  throw Error(path.string() + ": not a PyTorch (.pth) or safetensors file");
}

}  // namespace imret
