#pragma once
// JPEG (libjpeg) and PNG (libpng) decoders of the data stage, used by
// decode_image_rgb (image_folder_cv.cpp) in place of OpenCV for these two
// formats, because OpenCV lets both libraries print to stderr and takes
// damaged data as good: libjpeg's warnings (a truncated file, corrupt data)
// only warn while it makes up the missing pixels.
//
// These decoders print nothing, fail on any damage to the image data, check
// the size against ImageLimits before allocating the pixels, and give the
// pixels cv::imdecode(IMREAD_COLOR) gives (then BGR -> RGB), bit for bit:
// they ask the libraries for the same conversions OpenCV 4.6 asks for.
// Built when CMake finds the libraries (IMRET_WITH_LIBJPEG, IMRET_WITH_LIBPNG).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "imret/core/error.hpp"
#include "imret/data/image_header.hpp"

namespace imret::data {

// Why bytes are not a decodable image, without the file name (the caller adds it).
class ImageDecodeError : public Error {
 public:
  using Error::Error;
};

// 8-bit RGB, height x width x 3, rows contiguous, as stored (not yet turned
// upright): `orientation` is the EXIF orientation (1..8) to apply, 0 if none.
struct RgbImage {
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<uint8_t> pixels;
  int orientation = 0;
};

// Throw ImageDecodeError for bytes that are not a whole, undamaged image of
// their format, and for a size outside `limits`.
RgbImage decode_jpeg_rgb(const uint8_t* data, size_t size, const ImageLimits& limits);
RgbImage decode_png_rgb(const uint8_t* data, size_t size, const ImageLimits& limits);

}  // namespace imret::data
