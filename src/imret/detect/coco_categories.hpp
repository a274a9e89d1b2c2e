#pragma once
// The names of torchvision's COCO detection labels (Faster / Mask R-CNN
// trained on COCO): label ids are COCO's category ids, 1..90 with the gaps
// COCO leaves, and 0 the background. Torch-free.
#include <cstdint>
#include <string>
#include <vector>

namespace imret::detect {

// 91 names indexed by label id, exactly torchvision's _COCO_CATEGORIES:
// [0] "__background__", [1] "person", ..., [90] "toothbrush"; "N/A" for the
// 10 ids below 91 that COCO does not use (12, 26, 29, 30, 45, 66, 68, 69, 71,
// 83).
const std::vector<std::string>& coco_category_names();

// The name of a label id; "class <id>" for an id outside 0..90.
std::string coco_category_name(int64_t label);

}  // namespace imret::detect
