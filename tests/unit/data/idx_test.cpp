#include <gtest/gtest.h>
#include <torch/torch.h>
#include <zlib.h>

#include <fstream>

#include "imret/core/atomic_file.hpp"
#include "imret/data/idx.hpp"
#include "imret/data/image_folder.hpp"
#include "test_util.hpp"

using namespace imret::data;
using imret::data::testing::TempDir;
using imret::data::testing::throws_with;
namespace fs = std::filesystem;

namespace {

// Reference numbers computed with /usr/bin/python3 + gzip from the installed
// files (pixel values are the raw uint8 bytes).
constexpr int64_t kTrainPixelSum = 3431114169;
constexpr int64_t kTestPixelSum = 573469082;

bool have_fashion_mnist() { return fs::exists(fs::path(kDefaultFashionMnist) / "train-images-idx3-ubyte.gz"); }

int64_t byte_value(const at::Tensor& pixel) { return std::lround(pixel.item<float>() * 255.0f); }

int64_t total_pixel_sum(const Dataset& d) {
  int64_t total = 0;
  for (int64_t begin = 0; begin < d.size(); begin += 5000) {
    std::vector<int64_t> indices;
    for (int64_t i = begin; i < std::min(begin + 5000, d.size()); ++i) indices.push_back(i);
    total += d.load_many(indices).mul(255.0).round().to(torch::kInt64).sum().item<int64_t>();
  }
  return total;
}

std::string big_endian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string idx_images(uint32_t n, uint32_t h, uint32_t w, const std::string& pixels) {
  return std::string("\0\0\x08\x03", 4) + big_endian(n) + big_endian(h) + big_endian(w) + pixels;
}

std::string idx_labels(const std::string& labels) {
  return std::string("\0\0\x08\x01", 4) + big_endian(static_cast<uint32_t>(labels.size())) + labels;
}

void write_plain(const fs::path& path, const std::string& bytes) { imret::write_file_atomic(path, bytes); }

void write_gzip(const fs::path& path, const std::string& bytes) {
  gzFile out = gzopen(path.c_str(), "wb");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(out);
}

// 3 images of 2 x 3 pixels: image k, pixel p holds 10 * k + p; labels 2, 0, 1.
std::string small_pixels() {
  std::string pixels;
  for (int k = 0; k < 3; ++k)
    for (int p = 0; p < 6; ++p) pixels.push_back(static_cast<char>(10 * k + p));
  return pixels;
}

void expect_small_dataset(const Dataset& d) {
  ASSERT_EQ(d.size(), 3);
  EXPECT_EQ(d.channels(), 1);
  EXPECT_EQ(d.labels(), (std::vector<int64_t>{2, 0, 1}));
  auto image = d.load(2);
  ASSERT_EQ(image.sizes(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(image.scalar_type(), torch::kFloat32);
  EXPECT_EQ(byte_value(image[0][1][2]), 25);  // row 1, col 2 -> pixel 5
  EXPECT_FLOAT_EQ(image[0][0][0].item<float>(), 20.0f / 255.0f);
  auto many = d.load_many({2, 0});
  ASSERT_EQ(many.sizes(), (std::vector<int64_t>{2, 1, 2, 3}));
  EXPECT_TRUE(many[0].equal(image));
  EXPECT_EQ(byte_value(many[1][0][1][0]), 3);
}

}  // namespace

TEST(FashionMnist, TrainSplitMatchesReference) {
  ASSERT_TRUE(have_fashion_mnist()) << "Fashion-MNIST not installed at " << kDefaultFashionMnist;
  auto d = load_mnist_folder(kDefaultFashionMnist, "train");
  ASSERT_EQ(d->size(), 60000);
  EXPECT_EQ(d->channels(), 1);
  EXPECT_TRUE(d->in_memory());
  ASSERT_EQ(d->classes().size(), 10u);
  EXPECT_EQ(d->classes()[0], "T-shirt/top");
  EXPECT_EQ(d->classes()[9], "Ankle boot");
  std::vector<int64_t> histogram(10, 0);
  for (auto label : d->labels()) ++histogram.at(static_cast<size_t>(label));
  EXPECT_EQ(histogram, std::vector<int64_t>(10, 6000));
  const std::vector<int64_t> first_labels{9, 0, 0, 3, 0, 2, 7, 2, 5, 5};
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(d->label(i), first_labels[static_cast<size_t>(i)]);
  auto first = d->load(0);
  ASSERT_EQ(first.sizes(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(std::lround(first.sum().item<double>() * 255.0), 76247);
  EXPECT_EQ(byte_value(first[0][14][14]), 217);
  EXPECT_EQ(byte_value(d->load(1234)[0][10][20]), 177);
  EXPECT_EQ(std::lround(d->load(1234).sum().item<double>() * 255.0), 75588);
  EXPECT_EQ(std::lround(d->load(59999).sum().item<double>() * 255.0), 16684);
  EXPECT_EQ(total_pixel_sum(*d), kTrainPixelSum);
  EXPECT_EQ(d->source(3), (fs::path(kDefaultFashionMnist) / "train-images-idx3-ubyte.gz").string() + "#3");
  EXPECT_THROW(d->load(60000), imret::Error);
}

TEST(FashionMnist, TestSplitMatchesReference) {
  ASSERT_TRUE(have_fashion_mnist()) << "Fashion-MNIST not installed at " << kDefaultFashionMnist;
  auto d = open_dataset(kDefaultFashionMnist, "test");
  ASSERT_EQ(d->size(), 10000);
  std::vector<int64_t> histogram(10, 0);
  for (auto label : d->labels()) ++histogram.at(static_cast<size_t>(label));
  EXPECT_EQ(histogram, std::vector<int64_t>(10, 1000));
  EXPECT_EQ(d->label(1), 2);
  EXPECT_EQ(std::lround(d->load(0).sum().item<double>() * 255.0), 33456);
  EXPECT_EQ(byte_value(d->load(0)[0][14][14]), 110);
  EXPECT_EQ(total_pixel_sum(*d), kTestPixelSum);
  // open_dataset checks an imposed class list against the folder's.
  EXPECT_NO_THROW(open_dataset(kDefaultFashionMnist, "test", fashion_mnist_classes()));
  EXPECT_TRUE(throws_with<imret::Error>([] { open_dataset(kDefaultFashionMnist, "test", {"a", "b"}); }, "differ"));
}

TEST(Idx, ReadsPlainFiles) {
  TempDir dir("plain");
  write_plain(dir.path() / "images", idx_images(3, 2, 3, small_pixels()));
  write_plain(dir.path() / "labels", idx_labels(std::string("\x02\x00\x01", 3)));
  auto d = load_idx_dataset(dir.path() / "images", dir.path() / "labels", {"a", "b", "c"});
  expect_small_dataset(*d);
  EXPECT_EQ(d->classes(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(d->source(1), (dir.path() / "images").string() + "#1");
}

TEST(Idx, ReadsGzipFilesAndNumbersClassesWhenUnnamed) {
  TempDir dir("gzip");
  write_gzip(dir.path() / "images.gz", idx_images(3, 2, 3, small_pixels()));
  write_gzip(dir.path() / "labels.gz", idx_labels(std::string("\x02\x00\x01", 3)));
  auto d = load_idx_dataset(dir.path() / "images.gz", dir.path() / "labels.gz", {});
  expect_small_dataset(*d);
  EXPECT_EQ(d->classes(), (std::vector<std::string>{"0", "1", "2"}));
}

TEST(Idx, TruncatedImagesNameTheFile) {
  TempDir dir("truncated");
  const auto images = dir.path() / "images";
  write_plain(images, idx_images(3, 2, 3, small_pixels().substr(0, 17)));
  write_plain(dir.path() / "labels", idx_labels(std::string("\x02\x00\x01", 3)));
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_idx_dataset(images, dir.path() / "labels", {}); },
                                        images.string() + ": truncated"));
}

TEST(Idx, TruncatedGzipNamesTheFile) {
  TempDir dir("truncated_gzip");
  const auto images = dir.path() / "images.gz";
  write_gzip(images, idx_images(3, 2, 3, small_pixels()));
  auto bytes = imret::read_file(images);
  write_plain(images, bytes.substr(0, bytes.size() / 2));
  write_plain(dir.path() / "labels", idx_labels(std::string("\x02\x00\x01", 3)));
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_idx_dataset(images, dir.path() / "labels", {}); },
                                        images.string() + ": corrupt or truncated gzip"));
}

TEST(Idx, TrailingBytesAreAnError) {
  TempDir dir("trailing");
  const auto images = dir.path() / "images";
  write_plain(images, idx_images(3, 2, 3, small_pixels() + "xx"));
  write_plain(dir.path() / "labels", idx_labels(std::string("\x02\x00\x01", 3)));
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_idx_dataset(images, dir.path() / "labels", {}); },
                                        images.string()));
}

TEST(Idx, BadMagicNamesTheFile) {
  TempDir dir("magic");
  write_plain(dir.path() / "images", idx_images(3, 2, 3, small_pixels()));
  write_plain(dir.path() / "labels", idx_labels(std::string("\x02\x00\x01", 3)));
  // Swapped files: each has the other's magic number.
  EXPECT_TRUE(throws_with<imret::Error>(
      [&] { load_idx_dataset(dir.path() / "labels", dir.path() / "images", {}); },
      (dir.path() / "labels").string() + ": bad magic number 0x00000801"));
  write_plain(dir.path() / "junk", "this is not an IDX file at all");
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_idx_dataset(dir.path() / "junk", dir.path() / "labels", {}); },
                                        (dir.path() / "junk").string() + ": bad magic"));
}

TEST(Idx, CountMismatchAndLabelRangeAreErrors) {
  TempDir dir("mismatch");
  write_plain(dir.path() / "images", idx_images(3, 2, 3, small_pixels()));
  write_plain(dir.path() / "two_labels", idx_labels(std::string("\x00\x01", 2)));
  EXPECT_TRUE(throws_with<imret::Error>(
      [&] { load_idx_dataset(dir.path() / "images", dir.path() / "two_labels", {}); }, "holds 2 labels"));
  write_plain(dir.path() / "labels", idx_labels(std::string("\x02\x00\x01", 3)));
  EXPECT_TRUE(throws_with<imret::Error>(
      [&] { load_idx_dataset(dir.path() / "images", dir.path() / "labels", {"a", "b"}); },
      (dir.path() / "labels").string() + ": label 2 out of range for 2 classes"));
}

TEST(Idx, MissingFileNamesIt) {
  TempDir dir("missing");
  EXPECT_TRUE(throws_with<imret::Error>(
      [&] { load_idx_dataset(dir.path() / "nope", dir.path() / "labels", {}); }, (dir.path() / "nope").string()));
}

TEST(MnistFolder, ChoosesClassNamesByFolderName) {
  TempDir dir("names");
  for (const char* name : {"My-Fashion-data", "digits"}) {
    const auto folder = dir.path() / name;
    fs::create_directories(folder);
    write_gzip(folder / "t10k-images-idx3-ubyte.gz", idx_images(3, 2, 3, small_pixels()));
    write_plain(folder / "t10k-labels-idx1-ubyte", idx_labels(std::string("\x02\x00\x01", 3)));
  }
  auto fashion = load_mnist_folder(dir.path() / "My-Fashion-data/", "test");
  EXPECT_EQ(fashion->classes(), fashion_mnist_classes());
  expect_small_dataset(*fashion);
  auto digits = open_dataset(dir.path() / "digits", "test");
  EXPECT_EQ(digits->classes().size(), 10u);
  EXPECT_EQ(digits->classes()[3], "3");
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_mnist_folder(dir.path() / "digits", "train"); },
                                        "train-images-idx3-ubyte"));
  EXPECT_TRUE(throws_with<imret::Error>([&] { load_mnist_folder(dir.path() / "digits", "validation"); },
                                        "unknown split 'validation'"));
}

TEST(OpenDataset, RejectsUnknownLayouts) {
  TempDir dir("layouts");
  EXPECT_TRUE(throws_with<imret::Error>([&] { open_dataset(dir.path(), "train"); }, "accepted layouts"));
  EXPECT_TRUE(throws_with<imret::Error>([&] { open_dataset(dir.path() / "absent", "train"); }, "not found"));
  write_plain(dir.path() / "file.txt", "x");
  EXPECT_TRUE(throws_with<imret::Error>([&] { open_dataset(dir.path() / "file.txt", "train"); }, "not a folder"));
}
