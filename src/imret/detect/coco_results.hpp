#pragma once
// Detections as a COCO results file, the format pycocotools' COCO.loadRes and
// the COCO evaluation server read: a JSON array with one object per detection,
//   {"image_id": 42, "category_id": 18, "bbox": [x, y, width, height],
//    "score": 0.987654, "segmentation": {"size": [h, w], "counts": "<RLE>"}}
// with "segmentation" only for detectors with masks (Mask R-CNN): the mask
// binarised at probability > 0.5 as torchvision's references do, as the
// compressed COCO RLE string (coco_rle.hpp).
#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "imret/core/atomic_file.hpp"
#include "imret/detect/coco_rle.hpp"
#include "imret/detect/detections.hpp"

namespace imret::detect {

struct CocoResultsOptions {
  bool masks = true;            // write "segmentation" when the detections have masks
  float mask_threshold = 0.5f;  // a mask pixel is set where its probability is above this
};
// Masks (Detections::masks, K x 1 x H x W) are probabilities (floating-point:
// set above mask_threshold) or already binarised (bool or integer: nonzero is
// set; mask_threshold does not apply).

// Writes the detections of many images, in the given order (each image's in
// its own order), atomically: an error leaves no file (nor a partial one).
// Numbers: box corners as the shortest text that reads back to the same
// float32; width and height as x2 - x1 and y2 - y1 computed in float32 (as
// torchvision's references do) and written the same way; scores to 6
// significant digits. Error naming the file for a non-finite box or score,
// tensors of mismatched sizes, or a mask that is not K x 1 x H x W. Images
// without detections add nothing; no images at all gives "[]".
void write_coco_results(const std::filesystem::path& file, const std::vector<std::pair<int64_t, Detections>>& images,
                        const CocoResultsOptions& options = {});

// The same, one image at a time: each image's results go to a temporary
// file as they are added, so that neither masks nor text pile up in memory.
// add() checks as write_coco_results does; commit() renames the file into
// place; without commit() nothing is left behind.
class CocoResultsWriter {
 public:
  explicit CocoResultsWriter(std::filesystem::path file, CocoResultsOptions options = {});
  ~CocoResultsWriter();
  void add(int64_t image_id, const Detections& detections);
  void commit();

 private:
  void write_text();

  std::filesystem::path file_;
  CocoResultsOptions options_;
  std::unique_ptr<AtomicFile> out_;
  std::string text_ = "[";
  bool first_ = true;
};

// The results of one image, read back from a results file.
struct CocoResultImage {
  int64_t image_id = 0;
  torch::Tensor bboxes;    // K x 4 float32: [x, y, width, height] as in the file
  torch::Tensor scores;    // K float32
  torch::Tensor labels;    // K int64: the category ids
  std::vector<Rle> masks;  // K RLEs, or empty when the file has no segmentations
};

// Reads a results file: one entry per image id, in the order each first
// appears (a file need not keep an image's results together), each image's
// results in file order. Segmentations may be compressed strings or count
// arrays (uncompressed RLE); either every result has one or none has. Error
// (one line: the file, then where and what) for malformed JSON, a root that is
// not an array, a missing or mistyped field, a bbox that is not 4 finite
// numbers, a polygon segmentation, or an RLE whose counts do not fit its size.
std::vector<CocoResultImage> read_coco_results(const std::filesystem::path& file);

// The COCO image id in a file name: the number that ends names such as
// COCO_val2014_000000000042.jpg or 000000000042.jpg (42), that is, a stem of
// only digits, or digits after a last '_' or '-'. None for other names (the
// caller numbers such images itself) or a number beyond int64.
std::optional<int64_t> coco_image_id(const std::filesystem::path& file);

}  // namespace imret::detect
