// Image-folder datasets on files written by the test with OpenCV.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "imret/core/atomic_file.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/loader.hpp"
#include "test_util.hpp"

using namespace imret::data;
using imret::data::testing::TempDir;
using imret::data::testing::throws_with;
namespace fs = std::filesystem;

namespace {

// A solid image, colour given as OpenCV's B, G, R.
void write_image(const fs::path& path, int height, int width, cv::Scalar bgr) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(cv::imwrite(path.string(), cv::Mat(height, width, CV_8UC3, bgr)));
}

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  imret::write_file_atomic(path, text);
}

// root/train/{cat,dog}, root/test/{cat}: red cat images, blue dog images.
struct Tree {
  TempDir dir{"folder"};
  fs::path root = dir.path() / "mit";
  Tree() {
    write_image(root / "train/cat/a.png", 4, 6, {0, 0, 255});
    write_image(root / "train/cat/b.PNG", 4, 6, {0, 0, 255});
    write_image(root / "train/dog/c.bmp", 5, 3, {255, 0, 0});
    write_image(root / "train/dog/d.jpg", 8, 8, {255, 0, 0});
    write_text(root / "train/dog/notes.txt", "not an image");
    write_text(root / "train/dog/.hidden.png", "hidden");
    fs::create_directories(root / "train/.cache");
    write_image(root / "test/dog/e.png", 4, 4, {255, 0, 0});
  }
};

}  // namespace

TEST(ImageFolder, ListsClassesAndLabelsInOrder) {
  Tree tree;
  auto d = load_image_folder(tree.root, "train");
  EXPECT_EQ(d->classes(), (std::vector<std::string>{"cat", "dog"}));
  ASSERT_EQ(d->size(), 4);  // notes.txt skipped, hidden file and folder ignored
  EXPECT_EQ(d->labels(), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(d->source(0), (tree.root / "train/cat/a.png").string());
  EXPECT_EQ(d->source(1), (tree.root / "train/cat/b.PNG").string());
  EXPECT_EQ(d->source(3), (tree.root / "train/dog/d.jpg").string());
  EXPECT_EQ(d->channels(), 3);
  EXPECT_FALSE(d->in_memory());
}

TEST(ImageFolder, DecodesToRgbFloat) {
  Tree tree;
  auto d = load_image_folder(tree.root, "train");
  auto red = d->load(0);
  ASSERT_EQ(red.sizes(), (std::vector<int64_t>{3, 4, 6}));
  EXPECT_EQ(red.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(red[0].eq(1.0f).all().item<bool>());  // channel 0 is red
  EXPECT_TRUE(red[1].eq(0.0f).all().item<bool>());
  EXPECT_TRUE(red[2].eq(0.0f).all().item<bool>());
  auto blue = d->load(2);
  EXPECT_EQ(blue.sizes(), (std::vector<int64_t>{3, 5, 3}));
  EXPECT_TRUE(blue[2].eq(1.0f).all().item<bool>());
  EXPECT_TRUE(blue[0].eq(0.0f).all().item<bool>());
  auto jpeg = d->load(3);  // lossy: close to blue
  EXPECT_GT(jpeg[2].min().item<float>(), 0.95f);
  EXPECT_LT(jpeg[0].max().item<float>(), 0.05f);
}

TEST(ImageFolder, GreyImagesBecomeThreeChannels) {
  TempDir dir("grey");
  fs::create_directories(dir.path() / "train/x");
  cv::Mat grey(3, 5, CV_8UC1, cv::Scalar(51));
  ASSERT_TRUE(cv::imwrite((dir.path() / "train/x/g.png").string(), grey));
  auto image = load_image_folder(dir.path(), "train")->load(0);
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{3, 3, 5}));
  EXPECT_TRUE(torch::allclose(image, torch::full({3, 3, 5}, 0.2f)));
}

TEST(ImageFolder, ImposedClassesKeepTrainIndices) {
  Tree tree;
  auto train = load_image_folder(tree.root, "train");
  auto test = load_image_folder(tree.root, "test", train->classes());
  EXPECT_EQ(test->classes(), train->classes());
  ASSERT_EQ(test->size(), 1);
  EXPECT_EQ(test->label(0), 1);  // dog is class 1 in train, the only class of test
  EXPECT_EQ(load_image_folder(tree.root, "test")->label(0), 0);
  write_image(tree.root / "test/bird/f.png", 4, 4, {0, 255, 0});
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_image_folder(tree.root, "test", train->classes()); },
                                        "class 'bird' is not among the 2 known classes"));
}

TEST(ImageFolder, MissingSplitListsTheSplitsThatExist) {
  Tree tree;
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_image_folder(tree.root, "val"); },
                                        "split 'val' not found; splits found: test, train"));
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_image_folder(tree.root / "nope", "train"); }, "not found"));
}

TEST(ImageFolder, EmptyClassIsAnErrorNamingIt) {
  Tree tree;
  fs::create_directories(tree.root / "train/empty");
  write_text(tree.root / "train/empty/readme.md", "no images here");
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_image_folder(tree.root, "train"); },
                                        (tree.root / "train/empty").string() + ": class folder holds no image"));
}

TEST(ImageFolder, CorruptImageThrowsBadImageErrorWithPath) {
  Tree tree;
  const auto corrupt = tree.root / "train/cat/corrupt.jpg";
  write_text(corrupt, "\xff\xd8\xff\xe0 definitely not a JPEG body");
  auto d = load_image_folder(tree.root, "train");
  ASSERT_EQ(d->size(), 5);
  EXPECT_EQ(d->source(2), corrupt.string());
  try {
    d->load(2);
    FAIL() << "no exception";
  } catch (const BadImageError& e) {
    EXPECT_EQ(e.path(), corrupt.string());
  }
  fs::remove(tree.root / "train/cat/a.png");  // vanished after listing
  EXPECT_THROW(d->load(0), BadImageError);
}

TEST(ImageFolder, LoaderSkipsOrFailsOnCorruptImages) {
  Tree tree;
  const auto corrupt = tree.root / "train/cat/corrupt.jpg";
  write_text(corrupt, "garbage");
  auto d = load_image_folder(tree.root, "train");
  Preprocess p;
  p.resize = 4;
  p.crop = 4;
  p.mean = {0.5, 0.5, 0.5};
  p.std = {0.5, 0.5, 0.5};
  LoaderOptions options;
  options.batch_size = 2;
  options.workers = 2;

  Loader skipping(d, make_eval_transform(p), options);
  skipping.start_epoch(0);
  std::vector<int64_t> seen;
  while (auto b = skipping.next()) {
    EXPECT_EQ(b->images.sizes().slice(1), (std::vector<int64_t>{3, 4, 4}));
    seen.insert(seen.end(), b->indices.begin(), b->indices.end());
  }
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 3, 4}));
  ASSERT_EQ(skipping.bad_images()->count(), 1);
  EXPECT_EQ(skipping.bad_images()->entries()[0].first, corrupt.string());

  options.on_bad_image = BadImagePolicy::Fail;
  Loader failing(d, make_eval_transform(p), options);
  failing.start_epoch(0);
  ASSERT_TRUE(failing.next().has_value());
  EXPECT_TRUE(throws_with<BadImageError>([&] { failing.next(); }, corrupt.string()));
}

TEST(ImageFolder, MixedSizesWithoutResizeAreAnError) {
  Tree tree;
  LoaderOptions options;
  options.batch_size = 4;
  Loader loader(load_image_folder(tree.root, "train"), nullptr, options);
  loader.start_epoch(0);
  EXPECT_TRUE(throws_with<imret::Error>([&] { loader.next(); }, "must share one size"));
}

TEST(OpenDataset, OpensImageFolders) {
  Tree tree;
  auto d = open_dataset(tree.root, "train");
  EXPECT_EQ(d->size(), 4);
  EXPECT_TRUE(throws_with<imret::Error>([&] { open_dataset(tree.root, "validation"); }, "splits found"));
}
