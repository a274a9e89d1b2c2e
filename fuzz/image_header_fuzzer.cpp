// libFuzzer entry point for read_image_header and read_exif_orientation
// (image_header.cpp, no LibTorch): any crash or sanitizer report is a bug.
// A size it reports is also checked against the default limits.
#include <cstddef>
#include <cstdint>

#include "imret/data/image_header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const imret::data::ImageHeader header = imret::data::read_image_header(data, size);
  if (header.has_size()) (void)imret::data::image_limit_violation(header.width, header.height, {});
  (void)imret::data::image_format_name(header.format);
  (void)imret::data::read_exif_orientation(data, size);
  return 0;
}
