#pragma once
// COCO instances annotations (instances_train2014.json and the like) and the
// course's retrieval split files, read with simdjson, written for tests,
// benches and the synthetic COCO generator. Torch-free.
//
// Instances file (official structure): {"info", "licenses", "images": [{"id",
// "file_name", "width", "height", ...}], "annotations": [{"id", "image_id",
// "category_id", "bbox": [x, y, w, h], "area", "iscrowd", "segmentation"}],
// "categories": [{"id", "name", "supercategory"}]}. Category ids have gaps
// (1..90 for 80 classes); imret numbers classes 0..C-1 by ascending id.
//
// Retrieval split file: {"<split>": {"<category id>": [image id, ...], ...}, ...}
// with splits such as "train", "database", "val", "test".
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "imret/core/object_counts.hpp"

namespace imret::data {

struct CocoCategory {
  int64_t id = 0;
  std::string name;
  std::string supercategory;
};

struct CocoImage {
  int64_t id = 0;
  std::string file_name;
  int32_t width = 0, height = 0;
};

struct CocoAnnotation {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  float bbox[4] = {0, 0, 0, 0};  // x, y, width, height in pixels
  double area = 0;
  bool iscrowd = false;
};

struct CocoInstances {
  std::vector<CocoImage> images;          // in file order
  std::vector<CocoCategory> categories;   // ascending id; class index = position
  // Per image (parallel to `images`): instances per class index, non-crowd
  // annotations only (empty for an image without any).
  std::vector<ObjectCounts> objects;
  // Per image: crowd annotations per class index (a crowd region is a group,
  // not a countable object).
  std::vector<ObjectCounts> crowd;
  int64_t annotation_count = 0;  // every annotation read, crowd ones included
  int64_t crowd_count = 0;
  // Every annotation, in file order; filled only with CocoReadOptions::keep_annotations.
  std::vector<CocoAnnotation> annotations;

  // Class index of a category id, -1 when absent.
  int64_t class_index(int64_t category_id) const;
  // Position in `images` of an image id, -1 when absent.
  int64_t image_index(int64_t image_id) const;
  // Category names by class index.
  std::vector<std::string> class_names() const;

  // Lookup tables behind class_index/image_index (built by the reader, or by
  // index() after filling the vectors by hand).
  void index();
  std::map<int64_t, int64_t> class_by_id;
  std::map<int64_t, int64_t> image_by_id;
};

struct CocoReadOptions {
  bool keep_annotations = false;  // keep every annotation (boxes) in CocoInstances::annotations
};

// Reads an instances file. Errors (imret::Error) name the file and the
// problem; malformed or truncated JSON gives the byte offset. Also an error:
// a missing "images"/"annotations"/"categories" array, a duplicate image or
// category id, an annotation whose image or category id is not listed.
// Memory: the file's bytes (padded) plus the result, plus simdjson's index of
// the file's structural characters (4 bytes each, touched as far as used:
// about 1.1 times the file for polygon-heavy files such as train2014).
CocoInstances read_coco_instances(const std::filesystem::path& path, const CocoReadOptions& options = {});

// Writes `instances` (images, categories, annotations) in the official
// structure, atomically. Non-crowd annotations get the box as a polygon
// segmentation, crowd ones an uncompressed RLE of the box. Fast enough for
// train2014-sized files (hundreds of thousands of annotations).
void write_coco_instances(const std::filesystem::path& path, const CocoInstances& instances);

// The images of one split of a retrieval split file, ascending image id, each
// with the category ids it is listed under (ascending).
struct SplitImage {
  int64_t image_id = 0;
  std::vector<int64_t> category_ids;
};

struct CocoSplits {
  std::map<std::string, std::vector<SplitImage>> splits;
  // The split's images; UsageError naming the split and the ones there are.
  const std::vector<SplitImage>& at(const std::string& split) const;
};

// Reads a retrieval split file. Errors name the file and the problem (byte
// offset for malformed JSON, a key that is not a category id, an id that is
// not an integer).
CocoSplits read_coco_splits(const std::filesystem::path& path);
// Writes one, atomically: splits in map order, category ids ascending.
void write_coco_splits(const std::filesystem::path& path, const CocoSplits& splits);

}  // namespace imret::data
