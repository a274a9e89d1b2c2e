#pragma once
// A synthetic COCO-format dataset for tests, the demo and experiments:
// canvases holding several Fashion-MNIST items placed at random, written in
// COCO's layout (coco_dataset.hpp) with real-looking annotations:
//
//   out/train2014/COCO_train2014_<id>.jpg    canvases of Fashion-MNIST train items
//   out/val2014/COCO_val2014_<id>.jpg        canvases of Fashion-MNIST test items
//   out/annotations/instances_{train,val}2014.json   official structure
//   out/retrieval_split.json                 train / database / val / test, as the course's file
//
// The ten Fashion-MNIST classes become categories with COCO-like ids that
// have gaps (see synthetic_coco_categories()); classes are drawn with
// unequal frequencies (rare classes exist); an image holds 1-3 classes with
// 1-3 instances each (at most max_objects), tinted, scaled and placed with
// little overlap; boxes are the items' tight pixel boxes. Some images hold
// no object, some a crowd region (a cluster of small items of one class,
// annotated once with iscrowd 1), some only a crowd. The retrieval split
// lists every train image with objects (train), a random part of them
// (database), and the val images with objects split into val and test.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "imret/data/coco_annotations.hpp"
#include "imret/data/dataset.hpp"

namespace imret::data {

struct SyntheticCocoOptions {
  int64_t train_images = 3000;
  int64_t val_images = 1000;
  int64_t canvas = 64;              // square canvas side in pixels, >= 32
  int64_t max_objects = 5;          // instances per image (non-crowd), >= 1
  double empty_fraction = 0.03;     // images without any object
  double crowd_fraction = 0.04;     // images with a crowd region (a third of them crowd only)
  double database_fraction = 0.25;  // of the train images with objects, into the database split
  double val_fraction = 0.4;        // of the val images with objects, into val (the rest: test)
  uint64_t seed = 0;

  // UsageError naming the first bad value.
  void validate() const;
};

struct SyntheticCocoSummary {
  int64_t train_images = 0, val_images = 0;
  int64_t annotations = 0, crowd_annotations = 0;
  int64_t empty_images = 0, crowd_only_images = 0;
  std::vector<int64_t> split_sizes;  // train, database, val, test
};

// The categories: Fashion-MNIST's classes with ids 1, 2, 4, 5, 7, 9, 11, 14, 16, 18.
const std::vector<CocoCategory>& synthetic_coco_categories();

// One generated image: RGB pixels (canvas x canvas x 3, row-major) and its
// annotations (image_id and id left 0). Deterministic in (options.seed, key).
// `items`: the Fashion-MNIST split to draw from (1 x 28 x 28 grey items).
struct SyntheticImage {
  std::vector<uint8_t> rgb;
  std::vector<CocoAnnotation> annotations;
};
SyntheticImage make_synthetic_image(const Dataset& items, const std::vector<std::vector<int64_t>>& items_by_class,
                                    const SyntheticCocoOptions& options, uint64_t key);

// Writes the whole dataset into `out` (a new folder; it is built next to it
// and renamed into place, so a failure leaves no partial dataset). Throws
// UsageError when `out` exists, imret::Error when Fashion-MNIST cannot be
// read or a file cannot be written, and when built without OpenCV (JPEG).
// Shows progress.
SyntheticCocoSummary write_synthetic_coco(const std::filesystem::path& fashion_mnist,
                                          const std::filesystem::path& out, const SyntheticCocoOptions& options);

// Encodes RGB pixels (height x width x 3) as a JPEG file, atomically.
// imret::Error naming the file when it cannot be written or OpenCV is missing.
void write_jpeg(const std::filesystem::path& path, const uint8_t* rgb, int64_t height, int64_t width,
                int quality = 92);

}  // namespace imret::data
