#pragma once
// COCO as an imret dataset: multi-label items (the objects of each image).
//
//   root/annotations/instances_<set>.json   e.g. instances_train2014.json, instances_val2014.json
//   root/<set>/<file_name>                  the images, e.g. root/train2014/COCO_train2014_...jpg
//   root/retrieval_split.json               optional: the course's retrieval split file
//                                           {"train": {"<category id>": [image ids]}, "database": ..}
//
// A split is either a split of root/retrieval_split.json ("train",
// "database", "val", "test": its images, ascending id) or a set name
// ("train2014": every image of instances_train2014.json, in file order).
// Each image's objects: its non-crowd instances per class; a class present
// only as crowd regions (or listed for the image by the split file without
// any annotation) counts one object (a crowd is a group, not countable).
// Classes: the instances file's categories by ascending id.
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "imret/data/coco_annotations.hpp"
#include "imret/data/dataset.hpp"

namespace imret::data {

inline const char* kCocoSplitFile = "retrieval_split.json";

// True when root/annotations holds at least one instances_*.json.
bool is_coco_folder(const std::filesystem::path& root);

// The sets root/annotations/instances_<set>.json names, sorted.
std::vector<std::string> coco_sets(const std::filesystem::path& root);

// One image's objects by the rule above: `objects` (non-crowd counts) plus
// count 1 for each class of `crowd` or `listed` (class indices) it lacks.
ObjectCounts coco_image_objects(const ObjectCounts& objects, const ObjectCounts& crowd,
                                const std::vector<int32_t>& listed = {});

// How make_retrieval_splits draws the course's splits.
struct RetrievalSplitOptions {
  double database_fraction = 0.025;  // of the training set's images with objects
  double val_fraction = 0.029;       // of the query set's images with objects
  double test_fraction = 0.048;      // of the query set's images with objects, disjoint from val
  uint64_t seed = 0;
  // UsageError unless each fraction is in [0, 1] and val + test <= 1.
  void validate() const;
};

// The course's retrieval splits from two annotated sets (`train` needs its
// annotations, i.e. read with keep_annotations): "train" = every image of
// `train` with an object (crowd included), "database" = a random part of
// them, "val" and "test" = disjoint random parts of `query`'s images with
// objects. Each image is listed under every category it holds. Same inputs
// and seed, same splits.
CocoSplits make_retrieval_splits(const CocoInstances& train, const CocoInstances& query,
                                 const RetrievalSplitOptions& options);

// Opens split `split` of the COCO folder `root`. Items are 3 x H x W RGB
// decoded from root/<set>/<file_name> (OpenCV; BadImageError when one cannot
// be read). Throws imret::Error naming the file for a missing or malformed
// annotations or split file, an unknown split (listing the known ones), an
// image id of the split file found in no instances file, instances files
// whose categories differ, or a split without images.
std::shared_ptr<Dataset> load_coco(const std::filesystem::path& root, const std::string& split);

}  // namespace imret::data
