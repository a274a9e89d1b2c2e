#include "imret/data/image_header.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

namespace imret::data {

namespace {

// A bounds-checked view on the file's bytes: every read says whether the
// bytes were there, so no parser below can read past the end.
class Bytes {
 public:
  Bytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  size_t size() const { return size_; }
  bool has(size_t offset, size_t count) const { return offset <= size_ && count <= size_ - offset; }
  bool starts_with(size_t offset, const char* text) const {
    const size_t n = std::strlen(text);
    return has(offset, n) && std::memcmp(data_ + offset, text, n) == 0;
  }
  // Unchecked: callers check has() first.
  uint8_t u8(size_t offset) const { return data_[offset]; }
  uint32_t be16(size_t offset) const { return (uint32_t{data_[offset]} << 8) | data_[offset + 1]; }
  uint32_t le16(size_t offset) const { return uint32_t{data_[offset]} | (uint32_t{data_[offset + 1]} << 8); }
  uint32_t be32(size_t offset) const { return (be16(offset) << 16) | be16(offset + 2); }
  uint32_t le32(size_t offset) const { return le16(offset) | (le16(offset + 2) << 16); }
  uint32_t le24(size_t offset) const { return le16(offset) | (uint32_t{data_[offset + 2]} << 16); }

 private:
  const uint8_t* data_;
  size_t size_;
};

ImageHeader sized(ImageFormat format, uint64_t width, uint64_t height, int channels, int bit_depth) {
  ImageHeader header;
  header.format = format;
  if (width > 0 && height > 0 && width <= UINT32_MAX && height <= UINT32_MAX) {
    header.width = static_cast<uint32_t>(width);
    header.height = static_cast<uint32_t>(height);
    header.channels = channels;
    header.bit_depth = bit_depth;
  }
  return header;
}

ImageHeader unsized(ImageFormat format) { return sized(format, 0, 0, 0, 0); }

// JPEG: markers (0xFF, code) from SOI on, each but the standalone ones
// followed by a 2-byte length that counts itself; the size is in the first
// start-of-frame marker (SOF0..SOF15 except DHT C4, JPG C8, DAC CC).
ImageHeader jpeg_header(const Bytes& b) {
  size_t pos = 2;
  while (true) {
    // Like libjpeg, skip stray bytes and fill bytes (0xFF 0xFF...) before a marker code.
    while (b.has(pos, 1) && b.u8(pos) != 0xFF) ++pos;
    while (b.has(pos, 1) && b.u8(pos) == 0xFF) ++pos;
    if (!b.has(pos, 1)) return unsized(ImageFormat::Jpeg);
    const uint8_t marker = b.u8(pos++);
    if (marker == 0x01 || marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (marker == 0xD9 || marker == 0xDA) return unsized(ImageFormat::Jpeg);  // EOI or scan before a frame
    if (!b.has(pos, 2)) return unsized(ImageFormat::Jpeg);
    const uint32_t length = b.be16(pos);
    if (length < 2) return unsized(ImageFormat::Jpeg);
    const bool frame = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (frame) {
      if (length < 8 || !b.has(pos, 8)) return unsized(ImageFormat::Jpeg);
      // precision, height, width, components
      return sized(ImageFormat::Jpeg, b.be16(pos + 5), b.be16(pos + 3), b.u8(pos + 7), b.u8(pos + 2));
    }
    pos += length;
  }
}

// PNG: the signature, then IHDR (width, height, bit depth, colour type).
ImageHeader png_header(const Bytes& b) {
  if (!b.has(8, 8 + 13) || !b.starts_with(12, "IHDR")) return unsized(ImageFormat::Png);
  const uint8_t color_type = b.u8(25);
  int channels = 0;
  switch (color_type) {
    case 0: channels = 1; break;  // grey
    case 2: channels = 3; break;  // RGB
    case 3: channels = 3; break;  // palette of RGB
    case 4: channels = 2; break;  // grey + alpha
    case 6: channels = 4; break;  // RGBA
    default: break;
  }
  return sized(ImageFormat::Png, b.be32(16), b.be32(20), channels, b.u8(24));
}

// BMP: BITMAPFILEHEADER (14 bytes), then a DIB header whose first field is
// its size: 12 bytes (OS/2 core header, 16-bit sizes) or more (32-bit signed
// sizes; a negative height means the rows are stored top-down).
ImageHeader bmp_header(const Bytes& b) {
  if (!b.has(14, 4)) return unsized(ImageFormat::Bmp);
  const uint32_t dib_size = b.le32(14);
  if (dib_size == 12) {
    if (!b.has(14, 12)) return unsized(ImageFormat::Bmp);
    const int bits = static_cast<int>(b.le16(24));
    return sized(ImageFormat::Bmp, b.le16(18), b.le16(20), bits >= 24 ? 3 : 0, bits);
  }
  if (dib_size < 16 || !b.has(14, 16)) return unsized(ImageFormat::Bmp);
  const auto width = static_cast<int32_t>(b.le32(18));
  const auto height = static_cast<int32_t>(b.le32(22));
  const int bits = static_cast<int>(b.le16(28));
  const int64_t abs_height = height < 0 ? -int64_t{height} : int64_t{height};
  return sized(ImageFormat::Bmp, width < 0 ? 0 : static_cast<uint64_t>(width), static_cast<uint64_t>(abs_height),
               bits == 32 ? 4 : 3, bits);
}

// GIF: the logical screen size (what PIL reports as the image size).
ImageHeader gif_header(const Bytes& b) {
  if (!b.has(6, 4)) return unsized(ImageFormat::Gif);
  return sized(ImageFormat::Gif, b.le16(6), b.le16(8), 3, 8);
}

// WebP: RIFF....WEBP, then one of three first chunks at offset 12.
ImageHeader webp_header(const Bytes& b) {
  if (b.starts_with(12, "VP8 ")) {  // lossy: a 3-byte frame tag, the start code 9D 01 2A, 14-bit sizes
    if (!b.has(20, 10) || b.u8(23) != 0x9D || b.u8(24) != 0x01 || b.u8(25) != 0x2A) return unsized(ImageFormat::WebP);
    return sized(ImageFormat::WebP, b.le16(26) & 0x3FFF, b.le16(28) & 0x3FFF, 3, 8);
  }
  if (b.starts_with(12, "VP8L")) {  // lossless: signature 0x2F, then 14 bits each of width-1 and height-1
    if (!b.has(20, 5) || b.u8(20) != 0x2F) return unsized(ImageFormat::WebP);
    const uint32_t bits = b.le32(21);
    return sized(ImageFormat::WebP, (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, 4, 8);
  }
  if (b.starts_with(12, "VP8X")) {  // extended: flags, 3 reserved bytes, 24-bit canvas width-1 and height-1
    if (!b.has(20, 10)) return unsized(ImageFormat::WebP);
    const bool alpha = (b.u8(20) & 0x10) != 0;
    return sized(ImageFormat::WebP, uint64_t{b.le24(24)} + 1, uint64_t{b.le24(27)} + 1, alpha ? 4 : 3, 8);
  }
  return unsized(ImageFormat::WebP);
}

// TIFF: byte order, 42, the offset of the first IFD; its entries (tag, type,
// count, value-or-offset; 12 bytes each) give ImageWidth (256) and
// ImageLength (257) as SHORT or LONG, BitsPerSample (258), SamplesPerPixel (277).
ImageHeader tiff_header(const Bytes& b) {
  const bool little = b.u8(0) == 'I';
  auto u16 = [&](size_t at) { return little ? b.le16(at) : b.be16(at); };
  auto u32 = [&](size_t at) { return little ? b.le32(at) : b.be32(at); };
  if (!b.has(4, 4)) return unsized(ImageFormat::Tiff);
  const size_t ifd = u32(4);
  if (!b.has(ifd, 2)) return unsized(ImageFormat::Tiff);
  const size_t entries = u16(ifd);
  uint64_t width = 0, height = 0;
  int bits = 0, samples = 1;
  for (size_t k = 0; k < entries; ++k) {
    const size_t at = ifd + 2 + 12 * k;
    if (!b.has(at, 12)) break;
    const uint32_t tag = u16(at), type = u16(at + 2);
    // SHORT (3) values sit in the first 2 bytes of the value field, LONG (4) fill it.
    const uint32_t value = type == 3 ? u16(at + 8) : type == 4 ? u32(at + 8) : 0;
    if (tag == 256) width = value;
    if (tag == 257) height = value;
    if (tag == 258 && u32(at + 4) == 1) bits = static_cast<int>(value);  // one value: inline
    if (tag == 277) samples = static_cast<int>(value);
  }
  return sized(ImageFormat::Tiff, width, height, samples, bits);
}

// PNM: "P1".."P6", then width, height and (except bitmaps) maxval as decimal
// numbers separated by whitespace, where '#' starts a comment to the end of line.
ImageHeader pnm_header(const Bytes& b) {
  const char kind = static_cast<char>(b.u8(1));
  size_t pos = 2;
  auto number = [&](uint64_t& out) {
    while (b.has(pos, 1)) {
      const uint8_t c = b.u8(pos);
      if (c == '#') {
        while (b.has(pos, 1) && b.u8(pos) != '\n' && b.u8(pos) != '\r') ++pos;
      } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
        ++pos;
      } else {
        break;
      }
    }
    size_t digits = 0;
    out = 0;
    while (b.has(pos, 1) && b.u8(pos) >= '0' && b.u8(pos) <= '9') {
      if (++digits > 10) return false;  // larger than any 32-bit size: malformed
      out = out * 10 + (b.u8(pos++) - '0');
    }
    return digits > 0;
  };
  uint64_t width = 0, height = 0, maxval = 1;
  if (!number(width) || !number(height)) return unsized(ImageFormat::Pnm);
  const bool bitmap = kind == '1' || kind == '4';
  if (!bitmap && !number(maxval)) return unsized(ImageFormat::Pnm);
  const int channels = (kind == '3' || kind == '6') ? 3 : 1;
  const int bits = bitmap ? 1 : maxval < 256 ? 8 : 16;
  return sized(ImageFormat::Pnm, width, height, channels, bits);
}

// A number with at most one decimal: 50000, 12.5, 100.
std::string number_text(double value) {
  std::ostringstream out;
  out << std::setprecision(15) << std::round(value * 10) / 10;
  return out.str();
}

}  // namespace

const char* image_format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Bmp: return "BMP";
    case ImageFormat::Gif: return "GIF";
    case ImageFormat::WebP: return "WebP";
    case ImageFormat::Tiff: return "TIFF";
    case ImageFormat::Pnm: return "PNM";
    case ImageFormat::Unknown: break;
  }
  return "unknown format";
}

ImageHeader read_image_header(const uint8_t* data, size_t size) noexcept {
  if (!data) return {};
  const Bytes b(data, size);
  if (b.has(0, 3) && b.u8(0) == 0xFF && b.u8(1) == 0xD8 && b.u8(2) == 0xFF) return jpeg_header(b);
  if (b.starts_with(0, "\x89PNG\r\n\x1a\n")) return png_header(b);
  if (b.starts_with(0, "BM")) return bmp_header(b);
  if (b.starts_with(0, "GIF87a") || b.starts_with(0, "GIF89a")) return gif_header(b);
  if (b.starts_with(0, "RIFF") && b.starts_with(8, "WEBP")) return webp_header(b);
  if (b.has(0, 4) && (b.starts_with(0, "II") || b.starts_with(0, "MM"))) {
    // 42 in the file's byte order: classic TIFF; 43: BigTIFF, known but not sized.
    const uint32_t version = b.u8(0) == 'I' ? b.le16(2) : b.be16(2);
    if (version == 42) return tiff_header(b);
    if (version == 43) return unsized(ImageFormat::Tiff);
  }
  if (b.has(0, 3) && b.u8(0) == 'P' && b.u8(1) >= '1' && b.u8(1) <= '6') {
    const uint8_t next = b.u8(2);
    if (next == ' ' || next == '\t' || next == '\n' || next == '\r' || next == '#') return pnm_header(b);
  }
  return {};
}

int read_exif_orientation(const uint8_t* data, size_t size) noexcept {
  if (!data) return 0;
  const Bytes b(data, size);
  if (!b.has(0, 8)) return 0;
  const bool little = b.starts_with(0, "II");
  if (!little && !b.starts_with(0, "MM")) return 0;
  auto u16 = [&](size_t at) { return little ? b.le16(at) : b.be16(at); };
  auto u32 = [&](size_t at) { return little ? b.le32(at) : b.be32(at); };
  const size_t ifd = u32(4);
  if (!b.has(ifd, 2)) return 0;
  const size_t entries = u16(ifd);
  for (size_t k = 0; k < entries; ++k) {
    const size_t at = ifd + 2 + 12 * k;
    if (!b.has(at, 12)) return 0;
    if (u16(at) == 0x0112) {
      const uint32_t value = u16(at + 8);  // a SHORT, in the first 2 bytes of the value field
      return value >= 1 && value <= 8 ? static_cast<int>(value) : 0;
    }
  }
  return 0;
}

std::string image_limit_violation(uint64_t width, uint64_t height, const ImageLimits& limits) {
  const std::string size = std::to_string(width) + " x " + std::to_string(height);
  if (width == 0 || height == 0) return size + ": the image has no pixels";
  // width * height > max_pixels, without overflowing
  if (width > limits.max_pixels / height)
    return size + " pixels, more than the limit of " + std::to_string(limits.max_pixels) + " (a decompression bomb?)";
  const double ratio = static_cast<double>(std::max(width, height)) / static_cast<double>(std::min(width, height));
  if (ratio > limits.max_aspect_ratio)
    return size + ": aspect ratio " + number_text(ratio) + " above the limit of " + number_text(limits.max_aspect_ratio);
  return {};
}

}  // namespace imret::data
