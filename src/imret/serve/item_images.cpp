#include "imret/serve/item_images.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include "imret/core/error.hpp"
#include "imret/data/image_header.hpp"
#include "imret/data/png_writer.hpp"

namespace imret::serve {

namespace fs = std::filesystem;

namespace {

const char* content_type(data::ImageFormat format) {
  switch (format) {
    case data::ImageFormat::Jpeg: return "image/jpeg";
    case data::ImageFormat::Png: return "image/png";
    case data::ImageFormat::Bmp: return "image/bmp";
    case data::ImageFormat::Gif: return "image/gif";
    case data::ImageFormat::WebP: return "image/webp";
    case data::ImageFormat::Tiff: return "image/tiff";
    case data::ImageFormat::Pnm: return "image/x-portable-anymap";
    case data::ImageFormat::Unknown: break;
  }
  return nullptr;
}

// "<file>#<row>" -> (file, row); row -1 when the source has no row.
std::pair<std::string, int64_t> split_row(const std::string& source) {
  const size_t hash = source.rfind('#');
  if (hash == std::string::npos || hash + 1 == source.size()) return {source, -1};
  int64_t row = 0;
  for (size_t i = hash + 1; i < source.size(); ++i) {
    if (source[i] < '0' || source[i] > '9' || row > (int64_t{1} << 40)) return {source, -1};
    row = row * 10 + (source[i] - '0');
  }
  return {source.substr(0, hash), row};
}

}  // namespace

ItemImages::ItemImages(size_t cached_files, uint64_t max_file_bytes)
    : cached_files_(cached_files < 1 ? 1 : cached_files), max_file_bytes_(max_file_bytes) {}

std::shared_ptr<const data::IdxImages> ItemImages::idx_file(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = idx_cache_.begin(); it != idx_cache_.end(); ++it)
    if (it->first == path) {
      idx_cache_.splice(idx_cache_.begin(), idx_cache_, it);
      return it->second;
    }
  auto images = std::make_shared<const data::IdxImages>(data::load_idx_images(path));
  idx_cache_.emplace_front(path, images);
  if (idx_cache_.size() > cached_files_) idx_cache_.pop_back();
  return images;
}

ItemImage ItemImages::image_of(const EmbeddedItem& item) {
  const auto [file, row] = split_row(item.source);
  const std::string who = "item " + std::to_string(item.index) + " (" + item.source + ")";
  if (row >= 0) {
    const auto images = idx_file(file);
    if (row >= images->count) throw Error(who + ": " + file + " holds " + std::to_string(images->count) + " images");
    return {data::encode_png(images->image(row), images->height, images->width, 1), "image/png"};
  }
  std::error_code error;
  const uintmax_t size = fs::file_size(item.source, error);
  if (error) throw Error(who + ": cannot read the image file (" + error.message() + ")");
  if (size > max_file_bytes_) throw Error(who + ": the image file is larger than " + std::to_string(max_file_bytes_ >> 20) + " MB");
  std::ifstream in(item.source, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw Error(who + ": cannot read the image file");
  const char* type =
      content_type(data::read_image_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()).format);
  if (!type) throw Error(who + ": not an image file");
  return {std::move(bytes), type};
}

}  // namespace imret::serve
