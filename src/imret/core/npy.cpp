#include "imret/core/npy.hpp"

#include <cstring>
#include <regex>
#include <string>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

namespace imret {

void save_npy(const std::filesystem::path& path, const float* data, int64_t rows, int64_t cols) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) +
                       ", " + std::to_string(cols) + "), }";
  // magic(6) + version(2) + header length(2) + header, padded with spaces and
  // ended by '\n' so that the data starts on a 64-byte boundary.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  AtomicFile file(path);
  auto& out = file.stream();
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t length = static_cast<uint16_t>(header.size());
  const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
  out.write(length_bytes, 2);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  out.write(reinterpret_cast<const char*>(data),
            static_cast<std::streamsize>(rows * cols * static_cast<int64_t>(sizeof(float))));
  file.commit();
}

FloatMatrix load_npy(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const std::string name = path.string();
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    throw Error(name + ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  size_t header_length = 0;
  size_t header_start = 0;
  if (major == 1) {
    header_length = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw Error(name + ": truncated .npy header");
    header_length = 0;
    for (int i = 3; i >= 0; --i) header_length = (header_length << 8) | static_cast<unsigned char>(bytes[8 + i]);
    header_start = 12;
  } else {
    throw Error(name + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_start + header_length > bytes.size()) throw Error(name + ": truncated .npy header");
  const std::string header = bytes.substr(header_start, header_length);

  std::smatch match;
  if (!std::regex_search(header, match, std::regex("'descr'\\s*:\\s*'([^']*)'")))
    throw Error(name + ": .npy header has no dtype");
  const std::string descr = match[1];
  if (descr != "<f4" && descr != "=f4")
    throw Error(name + ": dtype " + descr + " is not float32 ('<f4'); save the array as float32");
  if (std::regex_search(header, std::regex("'fortran_order'\\s*:\\s*True")))
    throw Error(name + ": Fortran-order arrays are not supported; save with np.ascontiguousarray");
  if (!std::regex_search(header, match, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")))
    throw Error(name + ": .npy header has no shape");
  std::vector<int64_t> shape;
  const std::string dims = match[1];
  std::regex number("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), number); it != std::sregex_iterator(); ++it)
    shape.push_back(std::stoll(it->str()));
  FloatMatrix matrix;
  if (shape.size() == 1) {
    matrix.rows = shape[0];
    matrix.cols = 1;
  } else if (shape.size() == 2) {
    matrix.rows = shape[0];
    matrix.cols = shape[1];
  } else {
    throw Error(name + ": expected a 1-D or 2-D array, got " + std::to_string(shape.size()) + " dimensions");
  }
  const size_t data_start = header_start + header_length;
  const size_t expected = static_cast<size_t>(matrix.rows * matrix.cols) * sizeof(float);
  if (bytes.size() - data_start < expected)
    throw Error(name + ": truncated: the header promises " + std::to_string(expected) + " data bytes, the file has " +
                std::to_string(bytes.size() - data_start));
  matrix.values.resize(static_cast<size_t>(matrix.rows * matrix.cols));
  std::memcpy(matrix.values.data(), bytes.data() + data_start, expected);
  return matrix;
}

}  // namespace imret
