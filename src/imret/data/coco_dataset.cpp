#include "imret/data/coco_dataset.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "imret/core/setting_error.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/random.hpp"

namespace imret::data {

namespace fs = std::filesystem;

namespace {

const std::string kInstancesPrefix = "instances_";

fs::path instances_file(const fs::path& root, const std::string& set) {
  return root / "annotations" / (kInstancesPrefix + set + ".json");
}

std::string join(const std::vector<std::string>& names) {
  std::string text;
  for (const auto& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

// Class index of the dominant object (most instances; ties: lower index), -1 when none.
int64_t dominant_class(const ObjectCounts& objects) {
  int64_t best = -1;
  int32_t most = 0;
  for (const ObjectCount& o : objects) {
    if (o.count > most) {
      most = o.count;
      best = o.category;
    }
  }
  return best;
}

struct CocoItem {
  std::string path;
  ObjectCounts objects;
};

class CocoDataset : public Dataset {
 public:
  CocoDataset(std::vector<CocoItem> items, std::vector<std::string> classes)
      : items_(std::move(items)), classes_(std::move(classes)) {
    labels_.reserve(items_.size());
    for (const auto& item : items_) labels_.push_back(dominant_class(item.objects));
  }

  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  int64_t label(int64_t i) const override { return labels_[checked(i)]; }
  const std::vector<std::string>& classes() const override { return classes_; }
  bool has_objects() const override { return true; }
  ObjectCounts objects(int64_t i) const override { return items_[checked(i)].objects; }
  std::string source(int64_t i) const override { return items_[checked(i)].path; }
  int64_t channels() const override { return 3; }
  at::Tensor load(int64_t i) const override { return decode_image_rgb(items_[checked(i)].path); }

 private:
  size_t checked(int64_t i) const {
    if (i < 0 || i >= size())
      throw Error("COCO item " + std::to_string(i) + " out of range 0.." + std::to_string(size() - 1));
    return static_cast<size_t>(i);
  }

  std::vector<CocoItem> items_;
  std::vector<std::string> classes_;
  std::vector<int64_t> labels_;
};

void check_same_categories(const CocoInstances& a, const fs::path& a_file, const CocoInstances& b,
                           const fs::path& b_file) {
  bool same = a.categories.size() == b.categories.size();
  for (size_t c = 0; same && c < a.categories.size(); ++c)
    same = a.categories[c].id == b.categories[c].id && a.categories[c].name == b.categories[c].name;
  if (!same)
    throw Error(b_file.string() + ": its categories differ from those of " + a_file.string() +
                " (the sets of one COCO folder must share one category list)");
}

CocoItem make_item(const fs::path& root, const std::string& set, const CocoInstances& instances, int64_t image,
                   const std::vector<int32_t>& listed) {
  const auto k = static_cast<size_t>(image);
  return {(root / set / instances.images[k].file_name).string(),
          coco_image_objects(instances.objects[k], instances.crowd[k], listed)};
}

// Every image of one set, in file order.
std::shared_ptr<Dataset> load_whole_set(const fs::path& root, const std::string& set) {
  const CocoInstances instances = read_coco_instances(instances_file(root, set));
  std::vector<CocoItem> items;
  items.reserve(instances.images.size());
  for (size_t i = 0; i < instances.images.size(); ++i)
    items.push_back(make_item(root, set, instances, static_cast<int64_t>(i), {}));
  if (items.empty()) throw Error(instances_file(root, set).string() + ": no images");
  return std::make_shared<CocoDataset>(std::move(items), instances.class_names());
}

// The sets to look an image up in, most likely first: train2014 for the
// training and database splits, val2014 for the query splits.
std::vector<std::string> lookup_order(const fs::path& root, const std::string& split) {
  std::vector<std::string> sets = coco_sets(root);
  const bool query_split = split == "val" || split == "test" || split.rfind("val", 0) == 0 ||
                           split.rfind("test", 0) == 0;
  std::stable_sort(sets.begin(), sets.end(), [&](const std::string& a, const std::string& b) {
    const bool a_first = (a.rfind("val", 0) == 0) == query_split;
    const bool b_first = (b.rfind("val", 0) == 0) == query_split;
    return a_first && !b_first;
  });
  return sets;
}

std::shared_ptr<Dataset> load_split(const fs::path& root, const std::string& split, const CocoSplits& splits,
                                    const fs::path& split_file) {
  const std::vector<SplitImage>& wanted = splits.at(split);
  if (wanted.empty()) throw Error(split_file.string() + ": split '" + split + "' has no images");
  std::vector<std::optional<CocoItem>> items(wanted.size());
  size_t found = 0;
  std::optional<CocoInstances> first;
  fs::path first_file;
  for (const std::string& set : lookup_order(root, split)) {
    const fs::path file = instances_file(root, set);
    CocoInstances instances = read_coco_instances(file);
    if (first)
      check_same_categories(*first, first_file, instances, file);
    for (size_t k = 0; k < wanted.size(); ++k) {
      if (items[k]) continue;
      const int64_t image = instances.image_index(wanted[k].image_id);
      if (image < 0) continue;
      std::vector<int32_t> listed;
      for (int64_t id : wanted[k].category_ids) {
        const int64_t c = instances.class_index(id);
        if (c < 0)
          throw Error(split_file.string() + ": split '" + split + "' lists image " +
                      std::to_string(wanted[k].image_id) + " under category " + std::to_string(id) + ", which " +
                      file.string() + " does not have");
        listed.push_back(static_cast<int32_t>(c));
      }
      items[k] = make_item(root, set, instances, image, listed);
      ++found;
    }
    if (!first) {
      first = std::move(instances);
      first_file = file;
    }
    if (found == wanted.size()) break;
  }
  if (!first) throw Error((root / "annotations").string() + ": no instances_*.json file");
  std::vector<CocoItem> result;
  result.reserve(items.size());
  for (size_t k = 0; k < items.size(); ++k) {
    if (!items[k])
      throw Error(split_file.string() + ": image " + std::to_string(wanted[k].image_id) + " of split '" + split +
                  "' is in no instances file of " + (root / "annotations").string() + " (" +
                  join(coco_sets(root)) + ")");
    result.push_back(std::move(*items[k]));
  }
  return std::make_shared<CocoDataset>(std::move(result), first->class_names());
}

// Image ids with their category ids (crowd included), images with objects only, ascending id.
std::vector<SplitImage> images_with_objects(const CocoInstances& instances) {
  std::map<int64_t, std::set<int64_t>> categories;
  for (const CocoAnnotation& a : instances.annotations) categories[a.image_id].insert(a.category_id);
  std::vector<SplitImage> images;
  for (const auto& [id, ids] : categories) images.push_back({id, std::vector<int64_t>(ids.begin(), ids.end())});
  return images;
}

// Random disjoint parts of `images` with the given fractions (each part ascending id).
std::vector<std::vector<SplitImage>> random_parts(const std::vector<SplitImage>& images,
                                                  const std::vector<double>& fractions, uint64_t seed) {
  std::vector<size_t> order(images.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  shuffle_portable(order, rng);
  std::vector<int> part_of(images.size(), -1);
  size_t next = 0;
  for (size_t p = 0; p < fractions.size(); ++p) {
    const auto take = static_cast<size_t>(std::llround(fractions[p] * static_cast<double>(images.size())));
    for (size_t k = 0; k < take && next < order.size(); ++k) part_of[order[next++]] = static_cast<int>(p);
  }
  std::vector<std::vector<SplitImage>> parts(fractions.size());
  for (size_t i = 0; i < images.size(); ++i)
    if (part_of[i] >= 0) parts[static_cast<size_t>(part_of[i])].push_back(images[i]);
  return parts;
}

}  // namespace

void RetrievalSplitOptions::validate() const {
  for (const auto& [value, name] : {std::pair<double, const char*>{database_fraction, "database_fraction"},
                                    {val_fraction, "val_fraction"}, {test_fraction, "test_fraction"}})
    if (!(value >= 0.0 && value <= 1.0)) throw SettingError(name, " must be a fraction in [0, 1]");
  if (val_fraction + test_fraction > 1.0 + 1e-12)
    throw SettingError("val_fraction", " plus the test fraction must not exceed 1");
}

CocoSplits make_retrieval_splits(const CocoInstances& train, const CocoInstances& query,
                                 const RetrievalSplitOptions& options) {
  options.validate();
  CocoSplits splits;
  auto& split = splits.splits;
  split["train"] = images_with_objects(train);
  split["database"] = random_parts(split["train"], {options.database_fraction}, derive_seed(options.seed, 7))[0];
  auto queries = random_parts(images_with_objects(query), {options.val_fraction, options.test_fraction},
                              derive_seed(options.seed, 8));
  split["val"] = std::move(queries[0]);
  split["test"] = std::move(queries[1]);
  return splits;
}

bool is_coco_folder(const fs::path& root) { return !coco_sets(root).empty(); }

std::vector<std::string> coco_sets(const fs::path& root) {
  std::vector<std::string> sets;
  std::error_code error;
  const fs::path folder = root / "annotations";
  if (!fs::is_directory(folder, error)) return sets;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kInstancesPrefix, 0) == 0 && entry.path().extension() == ".json" &&
        name.size() > kInstancesPrefix.size() + 5)
      sets.push_back(name.substr(kInstancesPrefix.size(), name.size() - kInstancesPrefix.size() - 5));
  }
  std::sort(sets.begin(), sets.end());
  return sets;
}

ObjectCounts coco_image_objects(const ObjectCounts& objects, const ObjectCounts& crowd,
                                const std::vector<int32_t>& listed) {
  ObjectCounts merged = objects;
  auto add_present = [&](int32_t category) {
    const bool has = std::any_of(merged.begin(), merged.end(),
                                 [&](const ObjectCount& o) { return o.category == category; });
    if (!has) merged.push_back({category, 1});
  };
  for (const ObjectCount& o : crowd) add_present(o.category);
  for (int32_t category : listed) add_present(category);
  std::sort(merged.begin(), merged.end(),
            [](const ObjectCount& a, const ObjectCount& b) { return a.category < b.category; });
  return merged;
}

std::shared_ptr<Dataset> load_coco(const fs::path& root, const std::string& split) {
  const std::vector<std::string> sets = coco_sets(root);
  if (sets.empty())
    throw Error(root.string() + ": not a COCO folder (no annotations/instances_<set>.json)");
  if (std::find(sets.begin(), sets.end(), split) != sets.end()) return load_whole_set(root, split);
  const fs::path split_file = root / kCocoSplitFile;
  std::vector<std::string> known = sets;
  if (fs::exists(split_file)) {
    const CocoSplits splits = read_coco_splits(split_file);
    if (splits.splits.count(split)) return load_split(root, split, splits, split_file);
    for (const auto& entry : splits.splits) known.push_back(entry.first);
  }
  throw UsageError(root.string() + ": no COCO split '" + split + "' (known: " + join(known) + ")");
}

}  // namespace imret::data
