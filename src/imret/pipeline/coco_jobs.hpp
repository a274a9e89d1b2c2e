#pragma once
// COCO folders as jobs (`imret coco split|stats`): the retrieval split file
// made from two instances files, and what one split holds.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "imret/data/coco_annotations.hpp"
#include "imret/data/coco_dataset.hpp"
#include "imret/data/dataset.hpp"

namespace imret::pipeline {

struct SplitFileRequest {
  std::string data;                      // the COCO folder (annotations/instances_<set>.json)
  std::string train_set = "train2014";   // the set of the train and database splits
  std::string query_set = "val2014";     // the set of the val and test splits
  std::filesystem::path out;             // empty: <data>/retrieval_split.json
  bool replace = false;                  // an existing split file may be replaced
  std::string replace_hint;              // how the caller allows that, for the refusal's message
  data::RetrievalSplitOptions options;
};

// Writes the split file; returns where, with the splits. UsageError naming
// the file when it exists and may not be replaced.
std::pair<std::filesystem::path, data::CocoSplits> write_split_file(const SplitFileRequest& request);

struct ObjectStatistics {
  int64_t images = 0;
  int64_t empty_images = 0;     // without objects
  int64_t objects = 0;
  int64_t most_objects = 0;     // in one image
  std::vector<int64_t> images_with;  // per class: images holding it
  std::vector<int64_t> instances;    // per class: its objects
};

// Counts the objects of a dataset whose items carry them.
ObjectStatistics object_statistics(const data::Dataset& dataset);

}  // namespace imret::pipeline
