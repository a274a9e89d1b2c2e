#include "imret/core/object_counts.hpp"

#include <algorithm>

#include "imret/core/error.hpp"

namespace imret {

void check_object_counts(const ObjectCounts& objects, const std::string& what, int64_t classes) {
  for (size_t i = 0; i < objects.size(); ++i) {
    const ObjectCount& o = objects[i];
    if (o.category < 0 || (classes > 0 && o.category >= classes))
      throw Error(what + ": object category " + std::to_string(o.category) + " outside 0.." +
                  std::to_string(classes - 1));
    if (o.count < 1) throw Error(what + ": object count " + std::to_string(o.count) + " (must be >= 1)");
    if (i > 0 && objects[i - 1].category >= o.category)
      throw Error(what + ": object categories must be ascending without repeats");
  }
}

ObjectCounts normalized_object_counts(ObjectCounts objects, const std::string& what) {
  std::sort(objects.begin(), objects.end(),
            [](const ObjectCount& a, const ObjectCount& b) { return a.category < b.category; });
  ObjectCounts merged;
  for (const ObjectCount& o : objects) {
    if (o.count < 1) throw Error(what + ": object count " + std::to_string(o.count) + " (must be >= 1)");
    if (o.category < 0) throw Error(what + ": negative object category " + std::to_string(o.category));
    if (!merged.empty() && merged.back().category == o.category)
      merged.back().count += o.count;
    else
      merged.push_back(o);
  }
  return merged;
}

int64_t shared_categories(const ObjectCounts& a, const ObjectCounts& b) {
  int64_t shared = 0;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i].category < b[j].category) {
      ++i;
    } else if (b[j].category < a[i].category) {
      ++j;
    } else {
      ++shared;
      ++i;
      ++j;
    }
  }
  return shared;
}

std::string object_counts_text(const ObjectCounts& objects, const std::vector<std::string>& names) {
  if (objects.empty()) return "no objects";
  std::string text;
  for (const ObjectCount& o : objects) {
    if (!text.empty()) text += ", ";
    const bool known = o.category >= 0 && static_cast<size_t>(o.category) < names.size();
    text += known ? names[static_cast<size_t>(o.category)] : "#" + std::to_string(o.category);
    if (o.count > 1) text += " x" + std::to_string(o.count);
  }
  return text;
}

}  // namespace imret
