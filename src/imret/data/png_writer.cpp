#include "imret/data/png_writer.hpp"

#include <zlib.h>

#include <cstring>
#include <limits>
#include <vector>

#include "imret/core/error.hpp"

namespace imret::data {

namespace {

void put_u32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

// length, type, data, CRC of type + data
void put_chunk(std::string& out, const char type[4], const std::string& data) {
  put_u32(out, static_cast<uint32_t>(data.size()));
  const size_t start = out.size();
  out.append(type, 4);
  out += data;
  const auto* bytes = reinterpret_cast<const Bytef*>(out.data() + start);
  put_u32(out, static_cast<uint32_t>(crc32(crc32(0L, Z_NULL, 0), bytes, static_cast<uInt>(out.size() - start))));
}

}  // namespace

std::string encode_png(const uint8_t* pixels, int64_t height, int64_t width, int channels) {
  if (channels != 1 && channels != 3) throw Error("PNG encoding: expected 1 or 3 channels, got " + std::to_string(channels));
  if (height <= 0 || width <= 0 || height > (1 << 16) || width > (1 << 16))
    throw Error("PNG encoding: " + std::to_string(width) + " x " + std::to_string(height) + " pixels is not a size it writes");
  const size_t row = static_cast<size_t>(width) * static_cast<size_t>(channels);
  // Each row starts with its filter type: 0, none.
  std::vector<uint8_t> raw((row + 1) * static_cast<size_t>(height));
  for (int64_t y = 0; y < height; ++y) std::memcpy(&raw[y * (row + 1) + 1], pixels + y * row, row);
  uLongf packed_size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(packed_size, '\0');
  if (compress2(reinterpret_cast<Bytef*>(packed.data()), &packed_size, raw.data(), static_cast<uLong>(raw.size()),
                Z_DEFAULT_COMPRESSION) != Z_OK)
    throw Error("PNG encoding: zlib failed");
  packed.resize(packed_size);

  std::string header;
  put_u32(header, static_cast<uint32_t>(width));
  put_u32(header, static_cast<uint32_t>(height));
  header += std::string{8, static_cast<char>(channels == 1 ? 0 : 2), 0, 0, 0};  // depth, colour type, methods
  std::string png = "\x89PNG\r\n\x1a\n";
  put_chunk(png, "IHDR", header);
  put_chunk(png, "IDAT", packed);
  put_chunk(png, "IEND", "");
  return png;
}

}  // namespace imret::data
