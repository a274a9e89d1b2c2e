#pragma once
// The objects of one image (COCO-style multi-label items): how many instances
// of each category it holds. Torch-free; shared by datasets, embedding sets,
// relevance and training.
#include <cstdint>
#include <string>
#include <vector>

namespace imret {

struct ObjectCount {
  int32_t category = 0;  // class index, 0 .. classes - 1 (not a COCO category id)
  int32_t count = 0;     // instances, >= 1
};

// Sorted by category, no category twice, every count >= 1. Empty: an image
// without objects.
using ObjectCounts = std::vector<ObjectCount>;

// Throws imret::Error("<what>: ...") unless `objects` keeps the rules above
// and every category is below `classes` (when classes > 0).
void check_object_counts(const ObjectCounts& objects, const std::string& what, int64_t classes = 0);

// Sorts by category and merges repeated categories (counts add up). Counts
// below 1 throw imret::Error naming `what`.
ObjectCounts normalized_object_counts(ObjectCounts objects, const std::string& what);

// Number of categories the two share.
int64_t shared_categories(const ObjectCounts& a, const ObjectCounts& b);

// "person x2, dog" style text with class names (index into `names`; an index
// outside gives "#<index>").
std::string object_counts_text(const ObjectCounts& objects, const std::vector<std::string>& names);

}  // namespace imret
