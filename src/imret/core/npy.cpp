#include "imret/core/npy.hpp"

#include <cctype>
#include <charconv>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

namespace imret {

namespace {

// Where the value of 'key' starts in a .npy header (a Python dict literal):
// past the quoted key, the colon and spaces; header.size() when absent.
size_t value_start(const std::string& header, const std::string& key) {
  const size_t at = header.find("'" + key + "'");
  if (at == std::string::npos) return header.size();
  size_t i = at + key.size() + 2;
  const auto skip_spaces = [&] {
    while (i < header.size() && std::isspace(static_cast<unsigned char>(header[i]))) ++i;
  };
  skip_spaces();
  if (i == header.size() || header[i] != ':') return header.size();
  ++i;
  skip_spaces();
  return i;
}

// The text of a quoted value ('<f4'), empty when absent.
std::string quoted_value(const std::string& header, const std::string& key) {
  const size_t start = value_start(header, key);
  if (start == header.size() || header[start] != '\'') return "";
  const size_t end = header.find('\'', start + 1);
  return end == std::string::npos ? "" : header.substr(start + 1, end - start - 1);
}

// The dimensions of 'shape': (3, 4), (5,) or () (Python 2 wrote 3L).
std::vector<int64_t> parse_shape(const std::string& header, const std::string& name) {
  const size_t start = value_start(header, "shape");
  const size_t end = start < header.size() && header[start] == '(' ? header.find(')', start) : std::string::npos;
  if (end == std::string::npos) throw Error(name + ": .npy header has no shape");
  std::vector<int64_t> shape;
  std::string_view rest(header.data() + start + 1, end - start - 1);
  while (!rest.empty()) {
    const size_t comma = std::min(rest.find(','), rest.size());
    std::string_view dim = rest.substr(0, comma);
    rest.remove_prefix(std::min(comma + 1, rest.size()));
    while (!dim.empty() && std::isspace(static_cast<unsigned char>(dim.front()))) dim.remove_prefix(1);
    while (!dim.empty() && std::isspace(static_cast<unsigned char>(dim.back()))) dim.remove_suffix(1);
    if (!dim.empty() && dim.back() == 'L') dim.remove_suffix(1);
    if (dim.empty() && rest.empty() && !shape.empty()) break;  // the trailing comma of (5,)
    int64_t value = 0;
    const auto [stop, error] = std::from_chars(dim.data(), dim.data() + dim.size(), value);
    if (dim.empty() || error != std::errc() || stop != dim.data() + dim.size() || value < 0)
      throw Error(name + ": .npy shape has a bad dimension '" + std::string(dim) + "'");
    shape.push_back(value);
  }
  return shape;
}

}  // namespace

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

  const std::string descr = quoted_value(header, "descr");
  if (descr.empty()) throw Error(name + ": .npy header has no dtype");
  if (descr != "<f4" && descr != "=f4")
    throw Error(name + ": dtype " + descr + " is not float32 ('<f4'); save the array as float32");
  if (header.compare(value_start(header, "fortran_order"), 4, "True") == 0)
    throw Error(name + ": Fortran-order arrays are not supported; save with np.ascontiguousarray");
  const std::vector<int64_t> shape = parse_shape(header, name);
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
  constexpr int64_t kMaxValues = std::numeric_limits<int64_t>::max() / static_cast<int64_t>(sizeof(float));
  if (matrix.cols > 0 && matrix.rows > kMaxValues / matrix.cols)
    throw Error(name + ": shape (" + std::to_string(matrix.rows) + ", " + std::to_string(matrix.cols) +
                ") is too large for any file");
  const size_t data_start = header_start + header_length;
  const uint64_t expected = static_cast<uint64_t>(matrix.rows * matrix.cols) * sizeof(float);
  if (bytes.size() - data_start < expected)
    throw Error(name + ": truncated: the header promises " + std::to_string(expected) + " data bytes, the file has " +
                std::to_string(bytes.size() - data_start));
  matrix.values.resize(static_cast<size_t>(matrix.rows * matrix.cols));
  if (expected > 0) std::memcpy(matrix.values.data(), bytes.data() + data_start, expected);  // data() may be null
  return matrix;
}

}  // namespace imret
