#pragma once
// What an image file is and how big it says it is, read from its bytes alone
// (no decoding library), and the limits an image must keep to be decoded.
//
// Pure C++ with no LibTorch or OpenCV, so that it can be fuzzed on its own
// (fuzz/image_header_fuzzer.cpp). read_image_header never throws and never
// reads outside [data, data + size).
#include <cstddef>
#include <cstdint>
#include <string>

namespace imret::data {

enum class ImageFormat { Unknown, Jpeg, Png, Bmp, Gif, WebP, Tiff, Pnm };

// "JPEG", "PNG", ..., "unknown format".
const char* image_format_name(ImageFormat format);

struct ImageHeader {
  ImageFormat format = ImageFormat::Unknown;
  // The stored size; both 0 when the format is known but the size could not
  // be read (a header cut short, a JPEG with no frame header, BigTIFF...).
  uint32_t width = 0;
  uint32_t height = 0;
  int channels = 0;   // colour channels of the stored image (a palette counts as 3); 0: not read
  int bit_depth = 0;  // bits per sample; 0: not read
  bool has_size() const { return width > 0 && height > 0; }
};

// Recognises JPEG (markers walked to the first SOFn), PNG (IHDR), BMP, GIF,
// WebP (VP8, VP8L, VP8X), TIFF (first IFD) and PNM (P1..P6) by their
// signature; anything else is ImageFormat::Unknown.
ImageHeader read_image_header(const uint8_t* data, size_t size) noexcept;

// The EXIF orientation (1..8: how to turn the stored pixels upright) in a
// TIFF-structured EXIF block (from "II*\0" or "MM\0*" on, i.e. a JPEG APP1
// payload after its "Exif\0\0", or a PNG eXIf chunk): tag 0x0112 of IFD0.
// 0 when there is none or the block is malformed.
int read_exif_orientation(const uint8_t* data, size_t size) noexcept;

// Sizes an image may have. Checked from the header before any pixel buffer
// is allocated, so a small file cannot make imret allocate gigabytes.
struct ImageLimits {
  // PIL's Image.MAX_IMAGE_PIXELS * 2, the size at which PIL raises
  // DecompressionBombError: about 179 megapixels (13400 x 13400), larger than
  // any camera's photo, and 2 GB as float32 RGB.
  uint64_t max_pixels = 178956970;
  // Longer side / shorter side. Panoramas reach about 10:1; the resize to a
  // fixed shorter side multiplies the longer side by as much as it multiplies
  // the shorter one, so at 100:1 a 256-pixel short side gives a 25600-pixel
  // long side (79 MB as float32 RGB), while 1 x 50000 would need 39 GB.
  double max_aspect_ratio = 100.0;
};

// Empty when width x height is within `limits`; otherwise the reason, e.g.
// "30000 x 30000 pixels, more than the limit of 178956970 (a decompression bomb?)"
// or "1 x 50000: aspect ratio 50000 above the limit of 100".
std::string image_limit_violation(uint64_t width, uint64_t height, const ImageLimits& limits);

}  // namespace imret::data
