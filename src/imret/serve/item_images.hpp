#pragma once
// The image of a database item, for a page that shows results: the item's
// own image file, or, for an item that is a row of an IDX file
// ("<file>#<row>", Fashion-MNIST), that row encoded as PNG. Only sources the
// served items record are ever read: a request names an item by its id,
// never a path.
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "imret/core/embedding_set.hpp"
#include "imret/data/idx.hpp"

namespace imret::serve {

struct ItemImage {
  std::string bytes;
  std::string content_type;  // image/jpeg, image/png, ...
};

class ItemImages {
 public:
  // Keeps the last `cached_files` IDX files in memory; refuses image files
  // larger than `max_file_bytes`.
  explicit ItemImages(size_t cached_files = 2, uint64_t max_file_bytes = 64ull << 20);

  // Error naming the item when its source cannot be read or is not an image.
  ItemImage image_of(const EmbeddedItem& item);

 private:
  std::shared_ptr<const data::IdxImages> idx_file(const std::string& path);

  size_t cached_files_;
  uint64_t max_file_bytes_;
  std::mutex mutex_;
  std::list<std::pair<std::string, std::shared_ptr<const data::IdxImages>>> idx_cache_;  // most recent first
};

}  // namespace imret::serve
