#include "imret/pipeline/coco_jobs.hpp"

#include <algorithm>

#include "imret/core/error.hpp"
#include "imret/data/coco_dataset.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

std::pair<fs::path, data::CocoSplits> write_split_file(const SplitFileRequest& request) {
  request.options.validate();
  const fs::path out = request.out.empty() ? fs::path(request.data) / data::kCocoSplitFile : request.out;
  if (fs::exists(out) && !request.replace)
    throw UsageError(out.string() + " already exists; " + request.replace_hint + " to replace it");
  data::CocoReadOptions read;
  read.keep_annotations = true;
  const fs::path annotations = fs::path(request.data) / "annotations";
  const data::CocoInstances train =
      data::read_coco_instances(annotations / ("instances_" + request.train_set + ".json"), read);
  const data::CocoInstances query =
      data::read_coco_instances(annotations / ("instances_" + request.query_set + ".json"), read);
  data::CocoSplits splits = data::make_retrieval_splits(train, query, request.options);
  data::write_coco_splits(out, splits);
  return {out, std::move(splits)};
}

ObjectStatistics object_statistics(const data::Dataset& dataset) {
  ObjectStatistics stats;
  const size_t classes = dataset.classes().size();
  stats.images = dataset.size();
  stats.images_with.assign(classes, 0);
  stats.instances.assign(classes, 0);
  for (int64_t i = 0; i < dataset.size(); ++i) {
    const ObjectCounts counts = dataset.objects(i);
    int64_t total = 0;
    for (const ObjectCount& o : counts) {
      ++stats.images_with[static_cast<size_t>(o.category)];
      stats.instances[static_cast<size_t>(o.category)] += o.count;
      total += o.count;
    }
    stats.empty_images += counts.empty() ? 1 : 0;
    stats.objects += total;
    stats.most_objects = std::max(stats.most_objects, total);
  }
  return stats;
}

}  // namespace imret::pipeline
