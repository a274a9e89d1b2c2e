// JPEG encoding with OpenCV; only built with IMRET_WITH_OPENCV.
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/data/coco_synthetic.hpp"

namespace imret::data {

void write_jpeg(const std::filesystem::path& path, const uint8_t* rgb, int64_t height, int64_t width, int quality) {
  const cv::Mat view(static_cast<int>(height), static_cast<int>(width), CV_8UC3, const_cast<uint8_t*>(rgb));
  cv::Mat bgr;
  cv::cvtColor(view, bgr, cv::COLOR_RGB2BGR);
  std::vector<uchar> bytes;
  if (!cv::imencode(".jpg", bgr, bytes, {cv::IMWRITE_JPEG_QUALITY, quality}))
    throw Error(path.string() + ": cannot encode JPEG");
  AtomicFile file(path);
  file.stream().write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  file.commit();
}

}  // namespace imret::data
