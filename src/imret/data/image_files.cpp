#include "imret/data/image_files.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include "imret/core/error.hpp"

namespace imret::data {
namespace fs = std::filesystem;

bool has_image_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::set<std::string> known = {".jpg",  ".jpeg", ".png", ".bmp", ".tif",
                                              ".tiff", ".webp", ".ppm", ".pgm"};
  return known.count(ext) > 0;
}

std::vector<fs::path> list_image_files(const std::vector<std::string>& inputs) {
  std::vector<fs::path> files;
  for (const auto& input : inputs) {
    const fs::path path(input);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec))
        if (it->is_regular_file(ec) && has_image_extension(it->path())) found.push_back(it->path());
      if (ec) throw Error(input + ": cannot list the folder: " + ec.message());
      if (found.empty()) throw UsageError(input + ": the folder holds no image (.jpg, .png, .bmp, .tif, .webp, ...)");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
    } else {
      throw UsageError(input + ": no such image file or folder");
    }
  }
  return files;
}

}  // namespace imret::data
