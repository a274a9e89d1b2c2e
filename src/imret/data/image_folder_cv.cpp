// Image decoding: JPEG and PNG with our own libjpeg/libpng decoders when
// built with them (image_decode.hpp), every other format with OpenCV; only
// built with IMRET_WITH_OPENCV.
#include <torch/torch.h>

#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/core/utils/logger.hpp>

#include "imret/data/image_decode.hpp"
#include "imret/data/image_folder.hpp"

namespace imret::data {

namespace fs = std::filesystem;

bool image_decoding_available() { return true; }

namespace {

// Reads the file's bytes ourselves so that "missing" and "unreadable" are told
// apart from "not an image" (cv::imread reports all three as an empty Mat).
std::vector<uchar> read_bytes(const fs::path& file) {
  std::error_code error;
  if (!fs::is_regular_file(file, error)) throw BadImageError(file.string(), "file not found");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw BadImageError(file.string(), "cannot open file for reading");
  std::vector<uchar> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw BadImageError(file.string(), "read error");
  if (bytes.empty()) throw BadImageError(file.string(), "empty file");
  return bytes;
}

void check_limits(uint64_t width, uint64_t height, const ImageLimits& limits, const std::string& file) {
  const std::string violation = image_limit_violation(width, height, limits);
  if (!violation.empty()) throw BadImageError(file, violation);
}

// 8-bit H x W x 3 RGB -> float32 3 x H x W in [0, 1], owning its memory.
at::Tensor to_float_chw(const at::Tensor& hwc) { return hwc.permute({2, 0, 1}).contiguous().to(torch::kFloat32).div_(255.0f); }

// Turns the stored pixels upright as OpenCV's ApplyExifOrientation does
// (what IMREAD_COLOR applies): 5..8 transpose, then flips.
at::Tensor apply_exif_orientation(at::Tensor hwc, int orientation) {
  if (orientation >= 5 && orientation <= 8) hwc = hwc.transpose(0, 1);
  const bool flip_columns = orientation == 2 || orientation == 3 || orientation == 6 || orientation == 7;
  const bool flip_rows = orientation == 3 || orientation == 4 || orientation == 7 || orientation == 8;
  if (flip_columns) hwc = hwc.flip({1});
  if (flip_rows) hwc = hwc.flip({0});
  return hwc;
}

using Decoder = RgbImage (*)(const uint8_t* data, size_t size, const ImageLimits& limits);

// Our decoder for `format`; null when this build has none for it.
Decoder our_decoder(ImageFormat format) {
#ifdef IMRET_WITH_LIBJPEG
  if (format == ImageFormat::Jpeg) return decode_jpeg_rgb;
#endif
#ifdef IMRET_WITH_LIBPNG
  if (format == ImageFormat::Png) return decode_png_rgb;
#endif
  (void)format;
  return nullptr;
}

at::Tensor decode_with(Decoder decoder, const uint8_t* data, size_t size, const ImageLimits& limits,
                       const std::string& file) {
  RgbImage image;
  try {
    image = decoder(data, size, limits);
  } catch (const ImageDecodeError& e) {
    throw BadImageError(file, e.what());
  }
  auto hwc = torch::from_blob(image.pixels.data(), {image.height, image.width, 3}, torch::kUInt8);
  return to_float_chw(apply_exif_orientation(hwc, image.orientation));
}

// OpenCV for the other formats. It checks no size of ours, so the limits
// are checked from the header first when it could be read, else after.
at::Tensor decode_with_opencv(const uint8_t* data, size_t size, const ImageLimits& limits, const std::string& file) {
  // OpenCV logs a decoder's failure to stderr; the caller reports it instead.
  static std::once_flag quiet;
  std::call_once(quiet, [] { cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT); });
  cv::Mat bgr;
  try {
    const cv::Mat encoded(1, static_cast<int>(size), CV_8U, const_cast<uint8_t*>(data));  // read only
    bgr = cv::imdecode(encoded, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw BadImageError(file, std::string("cannot decode image: ") + e.err);
  }
  if (bgr.empty()) throw BadImageError(file, "cannot decode image (corrupt or not an image)");
  check_limits(static_cast<uint64_t>(bgr.cols), static_cast<uint64_t>(bgr.rows), limits, file);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);  // IMREAD_COLOR always gives 8-bit BGR
  auto hwc = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, {static_cast<int64_t>(rgb.step[0]), 3, 1},
                              torch::kUInt8);
  return to_float_chw(hwc);
}

}  // namespace

at::Tensor decode_image_rgb(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits) {
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw BadImageError(name, "more than 2 GB of encoded image");
  const ImageHeader header = read_image_header(data, size);
  if (header.has_size()) check_limits(header.width, header.height, limits, name);
  if (const Decoder decoder = our_decoder(header.format)) return decode_with(decoder, data, size, limits, name);
  return decode_with_opencv(data, size, limits, name);
}

at::Tensor decode_image_rgb(const fs::path& file, const ImageLimits& limits) {
  const std::vector<uchar> bytes = read_bytes(file);
  return decode_image_rgb(bytes.data(), bytes.size(), file.string(), limits);
}

at::Tensor decode_image_rgb(const fs::path& file) { return decode_image_rgb(file, ImageLimits{}); }

}  // namespace imret::data
