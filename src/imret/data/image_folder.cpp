#include "imret/data/image_folder.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <map>

#include "imret/data/coco_dataset.hpp"
#include "imret/data/idx.hpp"

namespace imret::data {

namespace fs = std::filesystem;

#ifndef IMRET_WITH_OPENCV
bool image_decoding_available() { return false; }

at::Tensor decode_image_rgb(const fs::path& file) {
  throw Error(file.string() + ": cannot decode images: imret was built without OpenCV (IMRET_WITH_OPENCV=OFF)");
}

at::Tensor decode_image_rgb(const fs::path& file, const ImageLimits&) { return decode_image_rgb(file); }

at::Tensor decode_image_rgb(const uint8_t*, size_t, const std::string& name, const ImageLimits&) {
  return decode_image_rgb(fs::path(name));
}
#endif

namespace {

bool is_hidden(const fs::path& p) {
  const auto name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

bool has_image_extension(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

// Visible subfolders of `folder`, sorted by name.
std::vector<std::string> subfolder_names(const fs::path& folder) {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    if (!is_hidden(entry.path()) && entry.is_directory(error)) names.push_back(entry.path().filename().string());
  }
  if (error) throw Error(folder.string() + ": cannot list folder: " + error.message());
  std::sort(names.begin(), names.end());
  return names;
}

std::string join(const std::vector<std::string>& names, size_t limit = 10) {
  std::string text;
  for (size_t k = 0; k < names.size() && k < limit; ++k) text += (k ? ", " : "") + names[k];
  if (names.size() > limit) text += ", ... (" + std::to_string(names.size()) + " in all)";
  return text;
}

fs::path split_folder(const fs::path& root, const std::string& split) {
  if (!fs::is_directory(root)) throw Error(root.string() + ": dataset folder not found");
  const fs::path folder = root / split;
  if (fs::is_directory(folder)) return folder;
  const auto splits = subfolder_names(root);
  throw Error(folder.string() + ": split '" + split + "' not found; " +
              (splits.empty() ? std::string("the folder has no subfolders")
                              : "splits found: " + join(splits)));
}

// Image files of one class folder, sorted by name; warns once about others.
std::vector<fs::path> class_images(const fs::path& class_folder) {
  std::vector<fs::path> images;
  std::vector<std::string> skipped;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(class_folder, error)) {
    if (is_hidden(entry.path())) continue;
    if (entry.is_regular_file(error) && has_image_extension(entry.path())) {
      images.push_back(entry.path());
    } else {
      skipped.push_back(entry.path().filename().string());
    }
  }
  if (error) throw Error(class_folder.string() + ": cannot list folder: " + error.message());
  if (!skipped.empty()) {
    std::sort(skipped.begin(), skipped.end());
    spdlog::warn("{}: skipped {} non-image entr{} (only .jpg, .jpeg, .png, .bmp are read): {}",
                 class_folder.string(), skipped.size(), skipped.size() == 1 ? "y" : "ies", join(skipped, 5));
  }
  if (images.empty()) throw Error(class_folder.string() + ": class folder holds no image (.jpg, .jpeg, .png, .bmp)");
  std::sort(images.begin(), images.end());
  return images;
}

// Label of `name` in the imposed class list; throws when it is not there.
int64_t imposed_label(const std::vector<std::string>& classes, const std::string& name, const fs::path& folder) {
  const auto it = std::find(classes.begin(), classes.end(), name);
  if (it == classes.end()) {
    throw Error((folder / name).string() + ": class '" + name + "' is not among the " +
                std::to_string(classes.size()) + " known classes (" + join(classes) +
                "); every class of this split must also be in the training split");
  }
  return it - classes.begin();
}

class ImageFolderDataset : public Dataset {
 public:
  ImageFolderDataset(std::vector<fs::path> files, std::vector<int64_t> labels, std::vector<std::string> classes)
      : files_(std::move(files)), labels_(std::move(labels)), classes_(std::move(classes)) {}

  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  int64_t label(int64_t i) const override { return labels_[checked(i)]; }
  const std::vector<std::string>& classes() const override { return classes_; }
  std::string source(int64_t i) const override { return files_[checked(i)].string(); }
  int64_t channels() const override { return 3; }
  at::Tensor load(int64_t i) const override { return decode_image_rgb(files_[checked(i)]); }

 private:
  size_t checked(int64_t i) const {
    if (i < 0 || i >= size()) {
      throw Error("image folder item " + std::to_string(i) + " out of range 0.." + std::to_string(size() - 1));
    }
    return static_cast<size_t>(i);
  }

  std::vector<fs::path> files_;
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
};

}  // namespace

std::shared_ptr<Dataset> load_image_folder(const fs::path& root, const std::string& split,
                                           const std::vector<std::string>& classes) {
  if (!image_decoding_available()) {
    throw Error(root.string() + ": cannot read image folders: imret was built without OpenCV (IMRET_WITH_OPENCV=OFF)");
  }
  const fs::path folder = split_folder(root, split);
  const auto class_names = subfolder_names(folder);
  if (class_names.empty()) throw Error(folder.string() + ": no class folders (expected " + folder.string() + "/<class>/<image>)");

  const std::vector<std::string>& final_classes = classes.empty() ? class_names : classes;
  std::vector<fs::path> files;
  std::vector<int64_t> labels;
  for (const auto& name : class_names) {
    const int64_t label = imposed_label(final_classes, name, folder);
    for (auto& image : class_images(folder / name)) {
      files.push_back(std::move(image));
      labels.push_back(label);
    }
  }
  return std::make_shared<ImageFolderDataset>(std::move(files), std::move(labels), final_classes);
}

std::shared_ptr<Dataset> open_dataset(const fs::path& path, const std::string& split,
                                      const std::vector<std::string>& classes) {
  const std::string layouts =
      "accepted layouts: a folder with MNIST IDX files (train-images-idx3-ubyte[.gz], ...), or an image folder "
      "<root>/<split>/<class>/<image>.{jpg,jpeg,png,bmp}, or a COCO folder (annotations/instances_<set>.json)";
  if (!fs::exists(path)) throw Error(path.string() + ": dataset not found; " + layouts);
  if (!fs::is_directory(path)) throw Error(path.string() + ": not a folder; " + layouts);
  if (is_mnist_folder(path)) {
    auto dataset = load_mnist_folder(path, split);
    if (!classes.empty() && classes != dataset->classes()) {
      throw Error(path.string() + ": its classes (" + join(dataset->classes()) + ") differ from the expected ones (" +
                  join(classes) + ")");
    }
    return dataset;
  }
  if (is_coco_folder(path)) {
    auto dataset = load_coco(path, split);
    if (!classes.empty() && classes != dataset->classes())
      throw Error(path.string() + ": its COCO categories differ from the expected classes (" + join(classes) + ")");
    return dataset;
  }
  if (!subfolder_names(path).empty()) return load_image_folder(path, split, classes);
  throw Error(path.string() + ": neither IDX files nor split subfolders found; " + layouts);
}

}  // namespace imret::data
