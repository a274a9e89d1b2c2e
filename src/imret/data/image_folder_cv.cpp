// Image decoding with OpenCV; only built with IMRET_WITH_OPENCV.
#include <torch/torch.h>

#include <fstream>
#include <iterator>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

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

cv::Mat decode_bgr(const std::vector<uchar>& bytes, const fs::path& file) {
  cv::Mat image;
  try {
    image = cv::imdecode(bytes, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw BadImageError(file.string(), std::string("cannot decode image: ") + e.what());
  }
  if (image.empty()) throw BadImageError(file.string(), "cannot decode image (corrupt or not an image)");
  return image;
}

}  // namespace

at::Tensor decode_image_rgb(const fs::path& file) {
  cv::Mat bgr = decode_bgr(read_bytes(file), file);
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);  // IMREAD_COLOR always gives 8-bit BGR
  auto hwc = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, {static_cast<int64_t>(rgb.step[0]), 3, 1},
                              torch::kUInt8);
  return hwc.permute({2, 0, 1}).contiguous().to(torch::kFloat32).div_(255.0f);  // copies: owns its memory
}

}  // namespace imret::data
