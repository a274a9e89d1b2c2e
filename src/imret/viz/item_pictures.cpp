#include "imret/viz/item_pictures.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "imret/core/error.hpp"
#include "imret/data/image_folder.hpp"

namespace imret::viz {
namespace fs = std::filesystem;

namespace {

std::shared_ptr<const data::Dataset> open_items_data(const EmbeddingSet& set, const fs::path& folder) {
  const nlohmann::json& meta = set.meta;
  if (!meta.contains("data") || !meta["data"].is_string() || meta["data"].get<std::string>().empty()) {
    throw Error((folder / "meta.json").string() +
                ": does not say which data the items came from (no \"data\"): their images cannot be shown");
  }
  const std::string data = meta["data"].get<std::string>();
  std::string split = "train";
  std::vector<std::string> classes;
  try {
    if (meta.contains("split")) split = meta["split"].get<std::string>();
    if (meta.contains("classes")) classes = meta["classes"].get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception&) {
    throw Error((folder / "meta.json").string() + ": \"split\" must be a string and \"classes\" a list of strings");
  }
  try {
    return data::open_dataset(data, split, classes);
  } catch (const Error& e) {
    throw Error((folder / "meta.json").string() + ": cannot open the items' data: " + e.what());
  }
}

// C x H x W float in [0, 1] -> H x W x C bytes.
Picture to_picture(const at::Tensor& image) {
  const at::Tensor bytes =
      image.clamp(0, 1).mul(255).round_().to(at::kByte).permute({1, 2, 0}).contiguous();
  Picture picture;
  picture.channels = static_cast<int>(image.size(0));
  picture.height = static_cast<int>(image.size(1));
  picture.width = static_cast<int>(image.size(2));
  picture.pixels.assign(bytes.data_ptr<uint8_t>(), bytes.data_ptr<uint8_t>() + bytes.numel());
  return picture;
}

}  // namespace

ItemPictures::ItemPictures(const EmbeddingSet& set, const fs::path& folder)
    : set_(set), folder_(folder), dataset_(open_items_data(set, folder)) {}

int64_t ItemPictures::data_index(int64_t row) const {
  if (row < 0 || row >= static_cast<int64_t>(set_.items.size())) {
    throw Error(folder_.string() + ": no row " + std::to_string(row) + " (" + std::to_string(set_.items.size()) +
                " items)");
  }
  const EmbeddedItem& item = set_.items[static_cast<std::size_t>(row)];
  const bool in_data = item.index >= 0 && item.index < dataset_->size();
  if (item.source.empty()) {
    if (!in_data) {
      throw Error(folder_.string() + ": item " + std::to_string(row) + " is number " + std::to_string(item.index) +
                  " of the data, which has " + std::to_string(dataset_->size()) + " items");
    }
    return item.index;
  }
  if (in_data && dataset_->source(item.index) == item.source) return item.index;
  // A set embedded from part of the data numbers its items within that part:
  // find the item by its source.
  if (by_source_.empty()) {
    for (int64_t i = 0; i < dataset_->size(); ++i) by_source_.emplace(dataset_->source(i), i);
  }
  const auto found = by_source_.find(item.source);
  if (found == by_source_.end()) {
    throw Error(folder_.string() + ": item " + std::to_string(row) + " was embedded from " + item.source +
                ", which the data no longer has (the data changed since it was embedded)");
  }
  return found->second;
}

Picture ItemPictures::picture(int64_t row, int max_side) const {
  at::Tensor image = dataset_->load(data_index(row));
  const int64_t longer = std::max(image.size(1), image.size(2));
  if (max_side > 0 && longer > max_side) {
    const double scale = static_cast<double>(max_side) / static_cast<double>(longer);
    const int64_t h = std::max<int64_t>(1, std::lround(image.size(1) * scale));
    const int64_t w = std::max<int64_t>(1, std::lround(image.size(2) * scale));
    image = at::adaptive_avg_pool2d(image.unsqueeze(0), {h, w}).squeeze(0);
  }
  return to_picture(image);
}

}  // namespace imret::viz
