#pragma once
// IDX files (the MNIST / Fashion-MNIST format), gzip-compressed or not.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "imret/data/dataset.hpp"

namespace imret::data {

// Where the Fashion-MNIST files are installed on the project's machines.
inline const char* kDefaultFashionMnist = "/usr/share/datasets/fashion-mnist";

// Fashion-MNIST's ten class names, in label order ("T-shirt/top", "Trouser", ...).
const std::vector<std::string>& fashion_mnist_classes();

// Loads an images file (magic 0x00000803: N x H x W uint8) and a labels file
// (magic 0x00000801: N uint8) into memory; either may be gzip-compressed.
// Items are 1 x H x W grey images; source(i) is "<images_file>#i".
// `class_names` gives the names of labels 0, 1, ...; empty: "0".."<max label>".
// Throws imret::Error naming the file when a file is missing, truncated,
// corrupt (bad gzip, bad magic, bad dimensions, trailing bytes), when the two
// counts differ, or when a label is not below class_names.size().
std::shared_ptr<Dataset> load_idx_dataset(const std::filesystem::path& images_file,
                                          const std::filesystem::path& labels_file,
                                          std::vector<std::string> class_names);

// The images of an IDX images file, as they are stored: `count` grey images
// of height x width bytes. Errors as load_idx_dataset's.
struct IdxImages {
  int64_t count = 0, height = 0, width = 0;
  std::string pixels;  // the whole (decompressed) file
  size_t offset = 0;   // of the first pixel
  // Image i's height * width bytes, row by row. Error when i is out of range.
  const uint8_t* image(int64_t i) const;
};
IdxImages load_idx_images(const std::filesystem::path& images_file);

// Split "train" (train-*-ubyte[.gz]) or "test" (t10k-*-ubyte[.gz]) of a folder
// holding the four MNIST-style files. Class names: Fashion-MNIST's when the
// folder's name contains "fashion" (any case), else "0".."9".
// Throws imret::Error for an unknown split or when the files are missing.
std::shared_ptr<Dataset> load_mnist_folder(const std::filesystem::path& folder, const std::string& split);

// True when `folder` holds at least one "*-idx3-ubyte" or "*-idx3-ubyte.gz" file.
bool is_mnist_folder(const std::filesystem::path& folder);

}  // namespace imret::data
