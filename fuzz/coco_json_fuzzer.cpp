// libFuzzer entry point for the COCO readers (simdjson On Demand): each input,
// written to /dev/shm, is read as an instances file (annotations kept) and as
// a retrieval split file. What a reader returns must hold together: one
// object and crowd list per image, class indices below the category count.
// Any exception other than imret::Error, any crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "imret/core/error.hpp"
#include "imret/data/coco_annotations.hpp"

namespace {

void check_instances(const imret::data::CocoInstances& instances) {
  const size_t images = instances.images.size();
  if (instances.objects.size() != images || instances.crowd.size() != images) __builtin_trap();
  for (const auto* per_image : {&instances.objects, &instances.crowd})
    for (const auto& counts : *per_image)
      for (const auto& object : counts)
        if (object.category < 0 || static_cast<size_t>(object.category) >= instances.categories.size()) __builtin_trap();
  for (const auto& annotation : instances.annotations)
    if (instances.image_index(annotation.image_id) < 0 || instances.class_index(annotation.category_id) < 0)
      __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = imret_fuzz::write_file("input.json", imret_fuzz::as_text(data, size));
  try {
    imret::data::CocoReadOptions options;
    options.keep_annotations = true;
    check_instances(imret::data::read_coco_instances(path, options));
  } catch (const imret::Error&) {
  }
  try {
    const imret::data::CocoSplits splits = imret::data::read_coco_splits(path);
    for (const auto& [name, images] : splits.splits) splits.at(name);
  } catch (const imret::Error&) {
  }
  return 0;
}
