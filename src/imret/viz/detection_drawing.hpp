#pragma once
// An image with what a detector found in it: each detection's box in its
// class's colour, a tag "<name> <score>" at the box's top-left corner, and
// (Mask R-CNN) its mask as a translucent fill of the same colour. Drawn with
// cairo when imret is built with it; without it write_detection_image throws a
// UsageError that says so (as every plot writer, plot.hpp).
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "imret/detect/detections.hpp"

namespace imret::viz {

struct DetectionDrawOptions {
  float score_threshold = 0.5f;  // detections scoring below this are not drawn
  // The name of a label: `category_name` when set, else `category_names`
  // indexed by label when not empty ("class <id>" outside it), else
  // torchvision's COCO names (detect::coco_category_name).
  std::function<std::string(int64_t)> category_name;
  std::vector<std::string> category_names;
  double line_width = 0;     // box lines in pixels; 0 = automatic (2 px up to 640 x 640, more for larger images)
  bool draw_masks = true;    // fill the masks of detections that have them
  float mask_threshold = 0.5f;  // a mask pixel is filled where its probability is above this
  double mask_opacity = 0.5;    // of the mask fill, in (0, 1]
};

// The RGB colour (0..255) of a label's boxes, tags and masks: a fixed
// palette of strong colours (Tableau 10, then the dark shades of Tableau
// 20b), label by label; colours repeat every 20 labels.
inline std::array<uint8_t, 3> detection_color(int64_t label) {
  static constexpr uint32_t kColors[20] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd, 0x8c564b, 0xe377c2,
                                           0x7f7f7f, 0xbcbd22, 0x17becf, 0x393b79, 0x637939, 0x8c6d31, 0x843c39,
                                           0x7b4173, 0x5254a3, 0x8ca252, 0xbd9e39, 0xad494a, 0xa55194};
  const uint32_t c = kColors[((label % 20) + 20) % 20];
  return {static_cast<uint8_t>(c >> 16), static_cast<uint8_t>(c >> 8), static_cast<uint8_t>(c)};
}

// Draws `image` (3 x H x W RGB or 1 x H x W grey; floating-point in [0, 1],
// clamped, or uint8) at its size with the detections scoring at least the
// threshold, lowest scores first so that the best lie on top: masks, then
// boxes, then the tags, each tag kept inside the image (above the box when
// there is room, else just inside it). PNG or SVG by the extension of `file`
// (UsageError otherwise), written atomically. UsageError naming the file for a
// malformed image or detections (masks not K x 1 x H x W of the image's size),
// an image larger than 10000 x 10000, or options out of range.
void write_detection_image(const torch::Tensor& image, const detect::Detections& detections,
                           const DetectionDrawOptions& options, const std::filesystem::path& file);

}  // namespace imret::viz
