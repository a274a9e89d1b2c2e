#pragma once
// Detecting objects in image files into a folder (`imret detect`):
//   detections.json   COCO results (Mask R-CNN adds compressed RLE masks)
//   images/<stem>.png the pictures with their detections drawn
//   objects.jsonl     the predicted objects of each image
//   embedding/        with features: an embedding folder (pooled FPN P2-P6 per image)
//   object_features.npy + .jsonl  with features: the box head's features per object
// Everything is built aside and put in place whole when the run succeeds.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace imret::pipeline {

struct DetectRequest {
  std::vector<std::string> inputs;  // image files or folders (searched recursively)
  std::string weights;              // torchvision's fasterrcnn/maskrcnn_resnet50_fpn state_dict
  std::string device = "cpu";
  std::string precision = "fp32";   // the backbone's (core/precision.hpp)
  double score_threshold = 0.05;    // keep detections scoring above this
  int64_t max_detections = 100;     // per image
  double draw_threshold = 0.5;      // draw detections scoring at least this
  double count_threshold = 0.5;     // predicted objects: detections scoring at least this
  double min_size = 800;            // resize the short side to this ...
  double max_size = 1333;           // ... unless the long side gets longer than this
  double bn_eps = 0.0;              // frozen batch norm epsilon (0 for torchvision's COCO weights)
  bool draw = true;
  bool features = false;
  bool skip_bad_images = true;      // else the first unreadable image stops the run
  bool replace = false;             // earlier detections in the folder may be replaced
  std::string replace_hint;         // how the caller allows that, for the refusal's message
};

struct DetectOutcome {
  int64_t detections = 0;
  int64_t images = 0;          // images detected in
  int64_t objects = 0;         // objects with features (features only)
  int64_t embedding_dim = 0;   // features only
  std::vector<std::string> bad_images;  // skipped
};

// Runs the detector over the request's images into `folder`. The folder is
// checked before the model loads; UsageError naming the field for a request
// that cannot run (no image decoding or drawing in this build, max_size below
// min_size); Error naming the image when one fails and bad images are not
// skipped, or when no image could be read.
DetectOutcome detect_to_folder(const DetectRequest& request, const std::filesystem::path& folder);

}  // namespace imret::pipeline
