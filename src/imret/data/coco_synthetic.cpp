#include "imret/data/coco_synthetic.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <random>
#include <set>

#include "imret/core/error.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/progress.hpp"
#include "imret/data/coco_dataset.hpp"
#include "imret/data/idx.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/random.hpp"

namespace imret::data {

namespace fs = std::filesystem;

#ifndef IMRET_WITH_OPENCV
void write_jpeg(const fs::path& path, const uint8_t*, int64_t, int64_t, int) {
  throw Error(path.string() + ": cannot write JPEG images: imret was built without OpenCV (IMRET_WITH_OPENCV=OFF)");
}
#endif

void SyntheticCocoOptions::validate() const {
  if (train_images < 1) throw SettingError("train_images", " must be at least 1");
  if (val_images < 1) throw SettingError("val_images", " must be at least 1");
  if (canvas < 32 || canvas > 1024) throw SettingError("canvas", " must be between 32 and 1024 pixels");
  if (max_objects < 1) throw SettingError("max_objects", " must be at least 1");
  auto fraction = [](double value, const char* name) {
    if (!(value >= 0.0 && value <= 1.0)) throw SettingError(name, " must lie in [0, 1]");
  };
  fraction(empty_fraction, "empty_fraction");
  fraction(crowd_fraction, "crowd_fraction");
  fraction(database_fraction, "database_fraction");
  fraction(val_fraction, "val_fraction");
}

const std::vector<CocoCategory>& synthetic_coco_categories() {
  static const std::vector<CocoCategory> categories = {
      {1, "t-shirt", "clothing"}, {2, "trouser", "clothing"},   {4, "pullover", "clothing"},
      {5, "dress", "clothing"},   {7, "coat", "clothing"},      {9, "sandal", "footwear"},
      {11, "shirt", "clothing"},  {14, "sneaker", "footwear"},  {16, "bag", "accessory"},
      {18, "ankle boot", "footwear"}};
  return categories;
}

namespace {

constexpr int64_t kClasses = 10;

// Class frequencies fall from 1 to about 0.18: the last classes are rare.
int32_t draw_class(std::mt19937_64& rng) {
  static const std::array<double, kClasses> weights = [] {
    std::array<double, kClasses> w{};
    for (int64_t c = 0; c < kClasses; ++c) w[static_cast<size_t>(c)] = 1.0 / (1.0 + 0.5 * static_cast<double>(c));
    return w;
  }();
  double total = 0;
  for (double w : weights) total += w;
  double u = uniform_real(rng, 0.0, total);
  for (int64_t c = 0; c < kClasses; ++c) {
    u -= weights[static_cast<size_t>(c)];
    if (u < 0) return static_cast<int32_t>(c);
  }
  return kClasses - 1;
}

// 1 with probability p[0], 2 with p[1], else 3.
int64_t draw_small(std::mt19937_64& rng, double p1, double p2) {
  const double u = uniform_real(rng, 0.0, 1.0);
  return u < p1 ? 1 : (u < p1 + p2 ? 2 : 3);
}

struct Box {
  double x0, y0, x1, y1;
  double area() const { return std::max(0.0, x1 - x0) * std::max(0.0, y1 - y0); }
};

double iou(const Box& a, const Box& b) {
  const Box inter{std::max(a.x0, b.x0), std::max(a.y0, b.y0), std::min(a.x1, b.x1), std::min(a.y1, b.y1)};
  const double i = inter.x1 > inter.x0 && inter.y1 > inter.y0 ? inter.area() : 0.0;
  return i / (a.area() + b.area() - i);
}

class Canvas {
 public:
  Canvas(int64_t side, std::mt19937_64& rng) : side_(side), pixels_(static_cast<size_t>(side * side * 3)) {
    for (auto& p : pixels_) p = static_cast<float>(uniform_real(rng, 0.0, 40.0));
  }

  // Draws a 28x28 grey item scaled to `size` pixels at (x, y), tinted; returns
  // the tight box of its visible pixels and their count (0 when none). With
  // `covered` (side x side flags), only pixels not covered before count, and
  // they are marked: the area of several items together.
  std::pair<Box, int64_t> draw(const float* item, int64_t size, int64_t x, int64_t y, const std::array<float, 3>& tint,
                               std::vector<uint8_t>* covered = nullptr) {
    Box box{1e9, 1e9, -1e9, -1e9};
    int64_t visible = 0;
    const double scale = 28.0 / static_cast<double>(size);
    for (int64_t r = 0; r < size; ++r) {
      for (int64_t c = 0; c < size; ++c) {
        const float v = bilinear(item, (static_cast<double>(c) + 0.5) * scale - 0.5,
                                 (static_cast<double>(r) + 0.5) * scale - 0.5);
        if (v < 0.1f) continue;
        const int64_t px = x + c, py = y + r;
        if (px < 0 || py < 0 || px >= side_ || py >= side_) continue;
        float* out = &pixels_[static_cast<size_t>((py * side_ + px) * 3)];
        for (int k = 0; k < 3; ++k) out[k] = std::max(out[k], 255.0f * v * tint[static_cast<size_t>(k)]);
        box = {std::min(box.x0, static_cast<double>(px)), std::min(box.y0, static_cast<double>(py)),
               std::max(box.x1, static_cast<double>(px + 1)), std::max(box.y1, static_cast<double>(py + 1))};
        if (covered) {
          uint8_t& flag = (*covered)[static_cast<size_t>(py * side_ + px)];
          visible += flag ? 0 : 1;
          flag = 1;
        } else {
          ++visible;
        }
      }
    }
    return {box, visible};
  }

  std::vector<uint8_t> rgb() const {
    std::vector<uint8_t> out(pixels_.size());
    for (size_t i = 0; i < pixels_.size(); ++i)
      out[i] = static_cast<uint8_t>(std::lround(std::clamp(pixels_[i], 0.0f, 255.0f)));
    return out;
  }

 private:
  static float bilinear(const float* item, double x, double y) {
    const double fx = std::floor(x), fy = std::floor(y);
    const auto x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
    const double ax = x - fx, ay = y - fy;
    auto at = [&](int64_t xx, int64_t yy) -> double {
      xx = std::clamp<int64_t>(xx, 0, 27);
      yy = std::clamp<int64_t>(yy, 0, 27);
      return item[yy * 28 + xx];
    };
    return static_cast<float>((1 - ay) * ((1 - ax) * at(x0, y0) + ax * at(x0 + 1, y0)) +
                              ay * ((1 - ax) * at(x0, y0 + 1) + ax * at(x0 + 1, y0 + 1)));
  }

  int64_t side_;
  std::vector<float> pixels_;
};

std::array<float, 3> draw_tint(std::mt19937_64& rng) {
  return {static_cast<float>(uniform_real(rng, 0.45, 1.0)), static_cast<float>(uniform_real(rng, 0.45, 1.0)),
          static_cast<float>(uniform_real(rng, 0.45, 1.0))};
}

const float* random_item(const Dataset& items, const std::vector<std::vector<int64_t>>& items_by_class, int32_t c,
                         std::mt19937_64& rng, at::Tensor& holder) {
  const auto& pool = items_by_class[static_cast<size_t>(c)];
  holder = items.load(pool[uniform_below(rng, pool.size())]).contiguous();
  if (holder.numel() != 28 * 28) throw Error("synthetic COCO needs 28x28 grey items (Fashion-MNIST)");
  return holder.data_ptr<float>();
}

CocoAnnotation annotation_of(const Box& box, int64_t visible, int32_t category, bool crowd) {
  CocoAnnotation a;
  a.category_id = synthetic_coco_categories()[static_cast<size_t>(category)].id;
  a.bbox[0] = static_cast<float>(box.x0);
  a.bbox[1] = static_cast<float>(box.y0);
  a.bbox[2] = static_cast<float>(box.x1 - box.x0);
  a.bbox[3] = static_cast<float>(box.y1 - box.y0);
  a.area = static_cast<double>(visible);
  a.iscrowd = crowd;
  return a;
}

// A cluster of 4-6 small items of one class, annotated as one crowd region.
void add_crowd(Canvas& canvas, const Dataset& items, const std::vector<std::vector<int64_t>>& items_by_class,
               int64_t side, std::mt19937_64& rng, std::vector<CocoAnnotation>& out) {
  const int32_t c = draw_class(rng);
  const int64_t small = std::max<int64_t>(8, side / 6);
  const int64_t region = std::min(side, small * 3);
  const auto rx = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(side - region + 1)));
  const auto ry = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(side - region + 1)));
  const auto tint = draw_tint(rng);
  Box united{1e9, 1e9, -1e9, -1e9};
  int64_t visible = 0;
  std::vector<uint8_t> covered(static_cast<size_t>(side * side), 0);
  const int64_t members = 4 + static_cast<int64_t>(uniform_below(rng, 3));
  at::Tensor holder;
  for (int64_t m = 0; m < members; ++m) {
    const float* item = random_item(items, items_by_class, c, rng, holder);
    const auto x = rx + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(region - small + 1)));
    const auto y = ry + static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(region - small + 1)));
    const auto [box, count] = canvas.draw(item, small, x, y, tint, &covered);
    if (box.x1 <= box.x0) continue;  // nothing of it visible
    united = {std::min(united.x0, box.x0), std::min(united.y0, box.y0), std::max(united.x1, box.x1),
              std::max(united.y1, box.y1)};
    visible += count;
  }
  if (visible > 0) out.push_back(annotation_of(united, visible, c, /*crowd=*/true));
}

}  // namespace

SyntheticImage make_synthetic_image(const Dataset& items, const std::vector<std::vector<int64_t>>& items_by_class,
                                    const SyntheticCocoOptions& options, uint64_t key) {
  std::mt19937_64 rng(derive_seed(options.seed, key));
  const int64_t side = options.canvas;
  Canvas canvas(side, rng);
  SyntheticImage image;
  const double kind = uniform_real(rng, 0.0, 1.0);
  const bool empty = kind < options.empty_fraction;
  const bool crowd = !empty && kind < options.empty_fraction + options.crowd_fraction;
  const bool crowd_only = crowd && uniform_real(rng, 0.0, 1.0) < 1.0 / 3.0;
  if (!empty && !crowd_only) {
    // 1-3 distinct classes, 1-3 instances each, at most max_objects in all.
    std::vector<int32_t> wanted;
    std::set<int32_t> classes;
    const int64_t distinct = draw_small(rng, 0.45, 0.35);
    while (static_cast<int64_t>(classes.size()) < distinct) classes.insert(draw_class(rng));
    for (int32_t c : classes)
      for (int64_t k = draw_small(rng, 0.6, 0.25); k > 0; --k) wanted.push_back(c);
    if (static_cast<int64_t>(wanted.size()) > options.max_objects) wanted.resize(static_cast<size_t>(options.max_objects));
    std::vector<Box> placed;
    at::Tensor holder;
    for (int32_t c : wanted) {
      const float* item = random_item(items, items_by_class, c, rng, holder);
      const auto size = static_cast<int64_t>(std::lround(uniform_real(rng, 0.32, 0.52) * static_cast<double>(side)));
      // Up to 30 tries at a place that overlaps the earlier items little; none: the item is left out.
      for (int attempt = 0; attempt < 30; ++attempt) {
        const auto x = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(side - size + 1)));
        const auto y = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(side - size + 1)));
        const Box frame{static_cast<double>(x), static_cast<double>(y), static_cast<double>(x + size),
                        static_cast<double>(y + size)};
        if (std::any_of(placed.begin(), placed.end(), [&](const Box& b) { return iou(b, frame) > 0.2; })) continue;
        const auto [box, visible] = canvas.draw(item, size, x, y, draw_tint(rng));
        if (visible > 0) image.annotations.push_back(annotation_of(box, visible, c, /*crowd=*/false));
        placed.push_back(frame);
        break;
      }
    }
  }
  if (crowd) add_crowd(canvas, items, items_by_class, side, rng, image.annotations);
  image.rgb = canvas.rgb();
  return image;
}

namespace {

struct SetWriter {
  std::string name;          // train2014 / val2014
  std::shared_ptr<Dataset> items;
  int64_t count;
  int64_t first_image_id;
};

std::vector<std::vector<int64_t>> by_class(const Dataset& items) {
  std::vector<std::vector<int64_t>> groups(kClasses);
  for (int64_t i = 0; i < items.size(); ++i) {
    const int64_t label = items.label(i);
    if (label < 0 || label >= kClasses) throw Error(items.source(i) + ": label outside the ten Fashion-MNIST classes");
    groups[static_cast<size_t>(label)].push_back(i);
  }
  for (size_t c = 0; c < groups.size(); ++c)
    if (groups[c].empty()) throw Error("Fashion-MNIST has no item of class " + std::to_string(c));
  return groups;
}

std::string image_file_name(const std::string& set, int64_t id) {
  char name[64];
  std::snprintf(name, sizeof(name), "COCO_%s_%012lld.jpg", set.c_str(), static_cast<long long>(id));
  return name;
}

// Writes one set's images and instances file; returns the instances.
CocoInstances write_set(const SetWriter& set, const fs::path& root, const SyntheticCocoOptions& options,
                        int64_t& next_annotation_id, uint64_t key_base) {
  CocoInstances instances;
  instances.categories = synthetic_coco_categories();
  const auto groups = by_class(*set.items);
  Progress progress("synthetic " + set.name, set.count, "images");
  for (int64_t k = 0; k < set.count; ++k) {
    SyntheticImage image = make_synthetic_image(*set.items, groups, options, key_base + static_cast<uint64_t>(k));
    CocoImage meta;
    meta.id = set.first_image_id + 3 * k + static_cast<int64_t>(mix64(key_base + static_cast<uint64_t>(k)) % 3);
    meta.file_name = image_file_name(set.name, meta.id);
    meta.width = static_cast<int32_t>(options.canvas);
    meta.height = static_cast<int32_t>(options.canvas);
    write_jpeg(root / set.name / meta.file_name, image.rgb.data(), options.canvas, options.canvas);
    for (CocoAnnotation& a : image.annotations) {
      a.id = next_annotation_id++;
      a.image_id = meta.id;
      instances.annotations.push_back(a);
    }
    instances.images.push_back(std::move(meta));
    progress.advance();
  }
  progress.finish();
  write_coco_instances(root / "annotations" / ("instances_" + set.name + ".json"), instances);
  return instances;
}

}  // namespace

SyntheticCocoSummary write_synthetic_coco(const fs::path& fashion_mnist, const fs::path& out_given,
                                          const SyntheticCocoOptions& options) {
  options.validate();
  fs::path out = out_given.lexically_normal();
  if (!out.has_filename()) out = out.parent_path();  // "data/coco/" -> "data/coco"
  if (out.empty() || out.filename() == "." || out.filename() == "..")
    throw UsageError("coco synth: '" + out_given.string() + "' does not name a new folder");
  std::error_code ec;
  if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && fs::is_empty(out, ec)))
    throw UsageError(out.string() + " already exists; choose a new folder");
  if (!image_decoding_available())
    throw Error("coco synth: this build cannot write JPEG images (built without OpenCV, IMRET_WITH_OPENCV=OFF)");
  // Built aside and moved into place whole (core/output_folder.hpp).
  OutputRules rules;
  rules.kind = "coco";
  rules.command = "coco synth";
  rules.inputs = {fashion_mnist};
  OutputFolder folder(out, rules);
  const fs::path& building = folder.path();
  fs::create_directories(building / "annotations");
  {
    int64_t next_annotation_id = 1;
    const SetWriter train{"train2014", load_mnist_folder(fashion_mnist, "train"), options.train_images, 100000};
    const SetWriter val{"val2014", load_mnist_folder(fashion_mnist, "test"), options.val_images, 900000};
    fs::create_directories(building / train.name);
    fs::create_directories(building / val.name);
    const CocoInstances train_instances = write_set(train, building, options, next_annotation_id, 0);
    const CocoInstances val_instances = write_set(val, building, options, next_annotation_id, 1ULL << 40);

    RetrievalSplitOptions split_options;
    split_options.database_fraction = options.database_fraction;
    split_options.val_fraction = options.val_fraction;
    split_options.test_fraction = 1.0 - options.val_fraction;
    split_options.seed = options.seed;
    CocoSplits splits = make_retrieval_splits(train_instances, val_instances, split_options);
    auto& split = splits.splits;
    write_coco_splits(building / kCocoSplitFile, splits);

    SyntheticCocoSummary summary;
    summary.train_images = options.train_images;
    summary.val_images = options.val_images;
    for (const CocoInstances* instances : {&train_instances, &val_instances}) {
      std::map<int64_t, std::pair<int64_t, int64_t>> per_image;  // id -> (non-crowd, crowd)
      for (const CocoAnnotation& a : instances->annotations) {
        ++summary.annotations;
        summary.crowd_annotations += a.iscrowd ? 1 : 0;
        (a.iscrowd ? per_image[a.image_id].second : per_image[a.image_id].first) += 1;
      }
      summary.empty_images += static_cast<int64_t>(instances->images.size() - per_image.size());
      for (const auto& entry : per_image) summary.crowd_only_images += entry.second.first == 0 ? 1 : 0;
    }
    for (const char* name : {"train", "database", "val", "test"})
      summary.split_sizes.push_back(static_cast<int64_t>(split[name].size()));
    folder.publish();
    return summary;
  }
}

}  // namespace imret::data
