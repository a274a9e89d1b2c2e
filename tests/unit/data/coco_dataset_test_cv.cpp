// COCO folders as datasets (objects from instances files and the retrieval
// split file, the crowd rule, errors) and the synthetic COCO generator.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "imret/core/atomic_file.hpp"
#include "imret/data/coco_dataset.hpp"
#include "imret/data/coco_synthetic.hpp"
#include "imret/data/idx.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/loader.hpp"
#include "test_util.hpp"

using namespace imret::data;
using imret::ObjectCount;
using imret::ObjectCounts;
using imret::data::testing::TempDir;
using imret::data::testing::throws_with;
namespace fs = std::filesystem;

namespace {

bool same(const ObjectCounts& a, const ObjectCounts& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].category != b[i].category || a[i].count != b[i].count) return false;
  return true;
}

CocoAnnotation annotation(int64_t id, int64_t image, int64_t category, bool crowd = false) {
  CocoAnnotation a;
  a.id = id;
  a.image_id = image;
  a.category_id = category;
  a.bbox[0] = 1;
  a.bbox[1] = 1;
  a.bbox[2] = 4;
  a.bbox[3] = 4;
  a.area = 16;
  a.iscrowd = crowd;
  return a;
}

// Categories 3 ("cat"), 7 ("dog"), 20 ("bird"): class indices 0, 1, 2.
CocoInstances instances_of(const std::vector<int64_t>& image_ids, const std::vector<CocoAnnotation>& annotations,
                           const std::string& set) {
  CocoInstances instances;
  instances.categories = {{3, "cat", "animal"}, {7, "dog", "animal"}, {20, "bird", "animal"}};
  for (int64_t id : image_ids)
    instances.images.push_back({id, "COCO_" + set + "_" + std::to_string(id) + ".png", 8, 6});
  instances.annotations = annotations;
  return instances;
}

void write_png(const fs::path& path, uint8_t value) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(cv::imwrite(path.string(), cv::Mat(6, 8, CV_8UC3, cv::Scalar(value, value, value))));
}

// train2014: images 10 (cat x2, dog), 11 (crowd of birds only), 12 (nothing);
// val2014: images 30 (dog, crowd of dogs, cat), 31 (bird x3).
struct CocoFolder {
  TempDir dir{"coco"};
  fs::path root = dir.path() / "coco";
  CocoFolder() {
    write_coco_instances(root / "annotations/instances_train2014.json",
                         instances_of({12, 10, 11},
                                      {annotation(1, 10, 3), annotation(2, 10, 7), annotation(3, 10, 3),
                                       annotation(4, 11, 20, true)},
                                      "train2014"));
    write_coco_instances(root / "annotations/instances_val2014.json",
                         instances_of({30, 31},
                                      {annotation(5, 30, 7), annotation(6, 30, 7, true), annotation(7, 30, 3),
                                       annotation(8, 31, 20), annotation(9, 31, 20), annotation(10, 31, 20)},
                                      "val2014"));
    for (int64_t id : {10, 11, 12}) write_png(root / "train2014" / ("COCO_train2014_" + std::to_string(id) + ".png"), 10);
    for (int64_t id : {30, 31}) write_png(root / "val2014" / ("COCO_val2014_" + std::to_string(id) + ".png"), 200);
    CocoSplits splits;
    splits.splits["database"] = {{11, {20}}, {10, {3, 7}}};
    splits.splits["test"] = {{31, {20}}, {30, {3, 7}}};
    splits.splits["train"] = {{10, {3, 7}}, {11, {20}}};
    write_coco_splits(root / kCocoSplitFile, splits);
  }
};

}  // namespace

TEST(CocoImageObjects, CrowdAndListedClassesCountOnce) {
  EXPECT_TRUE(same(coco_image_objects({{0, 2}, {1, 1}}, {}, {}), {{0, 2}, {1, 1}}));
  EXPECT_TRUE(same(coco_image_objects({{1, 3}}, {{1, 5}, {2, 1}}), {{1, 3}, {2, 1}}));  // crowd adds no count
  EXPECT_TRUE(same(coco_image_objects({}, {{4, 2}}), {{4, 1}}));                       // crowd only
  EXPECT_TRUE(same(coco_image_objects({{2, 2}}, {}, {0, 2}), {{0, 1}, {2, 2}}));        // listed by the split file
  EXPECT_TRUE(coco_image_objects({}, {}, {}).empty());
}

TEST(CocoDataset, SplitItemsCarryTheirObjects) {
  CocoFolder folder;
  ASSERT_TRUE(is_coco_folder(folder.root));
  EXPECT_EQ(coco_sets(folder.root), (std::vector<std::string>{"train2014", "val2014"}));
  auto test = open_dataset(folder.root, "test");  // through the layout dispatch
  ASSERT_EQ(test->size(), 2);
  EXPECT_TRUE(test->has_objects());
  EXPECT_EQ(test->classes(), (std::vector<std::string>{"cat", "dog", "bird"}));
  EXPECT_EQ(test->channels(), 3);
  // Ascending image id: 30 then 31.
  EXPECT_EQ(test->source(0), (folder.root / "val2014/COCO_val2014_30.png").string());
  EXPECT_TRUE(same(test->objects(0), {{0, 1}, {1, 1}}));  // the crowd of dogs adds nothing to the one dog
  EXPECT_TRUE(same(test->objects(1), {{2, 3}}));
  EXPECT_EQ(test->label(0), 0);  // tie between cat and dog: the lower class
  EXPECT_EQ(test->label(1), 2);
  const at::Tensor image = test->load(1);
  EXPECT_EQ(image.sizes(), (std::vector<int64_t>{3, 6, 8}));
  EXPECT_NEAR(image.mean().item<double>(), 200.0 / 255.0, 1e-6);

  auto database = load_coco(folder.root, "database");  // train2014 images
  ASSERT_EQ(database->size(), 2);
  EXPECT_TRUE(same(database->objects(0), {{0, 2}, {1, 1}}));
  EXPECT_TRUE(same(database->objects(1), {{2, 1}}));  // crowd-only birds: one object
  EXPECT_EQ(database->label(0), 0);

  // A loader batch holds the objects as count rows.
  Loader loader(database, nullptr, LoaderOptions{2, false, false, 0, 0});
  const auto batch = loader.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_TRUE(torch::equal(batch->objects, torch::tensor({2, 1, 0, 0, 0, 1}, torch::kInt64).reshape({2, 3})));
}

TEST(CocoDataset, WholeSetsKeepImagesWithoutObjects) {
  CocoFolder folder;
  auto train = load_coco(folder.root, "train2014");
  ASSERT_EQ(train->size(), 3);  // file order: 12, 10, 11
  EXPECT_TRUE(train->objects(0).empty());
  EXPECT_EQ(train->label(0), -1);
  EXPECT_TRUE(same(train->objects(1), {{0, 2}, {1, 1}}));
  EXPECT_TRUE(same(train->objects(2), {{2, 1}}));
}

TEST(CocoDataset, Errors) {
  CocoFolder folder;
  EXPECT_TRUE(throws_with<imret::UsageError>([&] { load_coco(folder.root, "nope"); }, "known: train2014, val2014"));
  EXPECT_TRUE(throws_with<imret::UsageError>([&] { load_coco(folder.root, "nope"); }, "database"));
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_coco(folder.dir.path(), "train"); }, "not a COCO folder"));

  // A split image that no instances file has.
  CocoSplits splits;
  splits.splits["test"] = {{99, {3}}};
  write_coco_splits(folder.root / kCocoSplitFile, splits);
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_coco(folder.root, "test"); }, "image 99"));
  // A category id the instances file lacks.
  splits.splits["test"] = {{30, {5}}};
  write_coco_splits(folder.root / kCocoSplitFile, splits);
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_coco(folder.root, "test"); }, "category 5"));
  // Instances files with different categories (an image only in the second file is looked up there).
  CocoInstances other = instances_of({40}, {}, "val2014");
  other.categories.pop_back();
  write_coco_instances(folder.root / "annotations/instances_val2014.json", other);
  splits.splits["train"] = {{40, {3}}};
  write_coco_splits(folder.root / kCocoSplitFile, splits);
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_coco(folder.root, "train"); }, "categories differ"));
  // A malformed split file names itself.
  imret::write_file_atomic(folder.root / kCocoSplitFile, "{\"test\": [1, 2");
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_coco(folder.root, "test"); }, kCocoSplitFile));
}

TEST(SyntheticCoco, ImagesAreDeterministicAndTheirBoxesHoldTheItems) {
  auto items = load_mnist_folder(kDefaultFashionMnist, "test");
  std::vector<std::vector<int64_t>> by_class(10);
  for (int64_t i = 0; i < 2000; ++i) by_class[static_cast<size_t>(items->label(i))].push_back(i);
  SyntheticCocoOptions options;
  options.canvas = 64;
  options.max_objects = 4;
  options.empty_fraction = 0.1;
  options.crowd_fraction = 0.2;
  int64_t empty = 0, crowd = 0, objects = 0;
  for (uint64_t key = 0; key < 200; ++key) {
    const SyntheticImage image = make_synthetic_image(*items, by_class, options, key);
    const SyntheticImage again = make_synthetic_image(*items, by_class, options, key);
    ASSERT_EQ(image.rgb, again.rgb);
    ASSERT_EQ(image.rgb.size(), 64u * 64u * 3u);
    int64_t non_crowd = 0;
    for (const CocoAnnotation& a : image.annotations) {
      const auto& categories = synthetic_coco_categories();
      EXPECT_TRUE(std::any_of(categories.begin(), categories.end(),
                              [&](const CocoCategory& c) { return c.id == a.category_id; }));
      const int x0 = static_cast<int>(a.bbox[0]), y0 = static_cast<int>(a.bbox[1]);
      const int x1 = x0 + static_cast<int>(a.bbox[2]), y1 = y0 + static_cast<int>(a.bbox[3]);
      ASSERT_TRUE(x0 >= 0 && y0 >= 0 && x1 <= 64 && y1 <= 64 && x1 > x0 && y1 > y0);
      EXPECT_LE(a.area, a.bbox[2] * a.bbox[3]);
      // The box's brightest pixel is an item's, far above the background (< 40).
      int brightest = 0;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x)
          for (int k = 0; k < 3; ++k) brightest = std::max<int>(brightest, image.rgb[static_cast<size_t>((y * 64 + x) * 3 + k)]);
      EXPECT_GT(brightest, 60);
      non_crowd += a.iscrowd ? 0 : 1;
      crowd += a.iscrowd ? 1 : 0;
    }
    EXPECT_LE(non_crowd, options.max_objects);
    empty += image.annotations.empty() ? 1 : 0;
    objects += non_crowd;
  }
  EXPECT_GT(empty, 5);
  EXPECT_GT(crowd, 10);
  EXPECT_GT(objects, 300);
  EXPECT_NE(make_synthetic_image(*items, by_class, options, 1).rgb, make_synthetic_image(*items, by_class, options, 2).rgb);
}

TEST(SyntheticCoco, WritesACompleteFolderOrNothing) {
  TempDir dir("synth");
  SyntheticCocoOptions options;
  options.train_images = 40;
  options.val_images = 20;
  options.canvas = 32;
  const fs::path out = dir.path() / "coco";
  const SyntheticCocoSummary summary = write_synthetic_coco(kDefaultFashionMnist, out, options);
  EXPECT_EQ(summary.train_images, 40);
  ASSERT_EQ(summary.split_sizes.size(), 4u);
  auto test = load_coco(out, "test");
  EXPECT_EQ(test->size(), summary.split_sizes[3]);
  EXPECT_EQ(test->load(0).sizes(), (std::vector<int64_t>{3, 32, 32}));
  auto train = load_coco(out, "train2014");
  EXPECT_EQ(train->size(), 40);

  EXPECT_TRUE(throws_with<imret::UsageError>([&] { write_synthetic_coco(kDefaultFashionMnist, out, options); },
                                             "already exists"));
  const fs::path failed = dir.path() / "failed";
  EXPECT_THROW(write_synthetic_coco(dir.path() / "no-such-mnist", failed, options), imret::Error);
  EXPECT_FALSE(fs::exists(failed));
  EXPECT_FALSE(fs::exists(dir.path() / "failed.partial"));
  options.canvas = 8;
  EXPECT_TRUE(throws_with<imret::UsageError>([&] { write_synthetic_coco(kDefaultFashionMnist, failed, options); },
                                             "canvas must be between 32 and 1024 pixels"));
}
