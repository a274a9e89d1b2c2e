// data::list_image_files: files as given, folders searched recursively and
// sorted, anything else named in the error.
#include <gtest/gtest.h>

#include <fstream>

#include "imret/data/image_files.hpp"
#include "support/errors.hpp"
#include "support/scratch.hpp"

namespace imret::data {
namespace {

namespace fs = std::filesystem;

TEST(ImageFiles, FoldersAreSearchedRecursivelyAndSorted) {
  const fs::path root = testing::scratch_path("data", "image_files");
  fs::create_directories(root / "b" / "deep");
  for (const char* name : {"b/deep/z.JPG", "b/a.png", "c.webp", "notes.txt", "b/deep/readme"})
    std::ofstream(root / name) << "x";
  const fs::path single = testing::scratch_path("data", "single.txt");
  std::ofstream(single) << "given files are taken as they are";
  const auto files = list_image_files({root.string(), single.string()});
  EXPECT_EQ(files, (std::vector<fs::path>{root / "b/a.png", root / "b/deep/z.JPG", root / "c.webp", single}));
}

TEST(ImageFiles, EmptyFoldersAndMissingPathsAreNamed) {
  const fs::path empty = testing::scratch_path("data", "no_images");
  fs::create_directories(empty);
  std::ofstream(empty / "a.txt") << "x";
  EXPECT_EQ(testing::error_of([&] { list_image_files({empty.string()}); }),
            empty.string() + ": the folder holds no image (.jpg, .png, .bmp, .tif, .webp, ...)");
  EXPECT_EQ(testing::error_of([&] { list_image_files({(empty / "gone").string()}); }),
            (empty / "gone").string() + ": no such image file or folder");
}

TEST(ImageFiles, ExtensionsInAnyCase) {
  EXPECT_TRUE(has_image_extension("a.TIFF"));
  EXPECT_TRUE(has_image_extension("x/y.Jpeg"));
  EXPECT_FALSE(has_image_extension("a.gif"));
  EXPECT_FALSE(has_image_extension("png"));
}

}  // namespace
}  // namespace imret::data
