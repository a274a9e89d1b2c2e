#pragma once
// The images behind an embedding set's rows, as small pictures to draw
// (retrieval grids, thumbnails on embedding maps). The set's meta.json says
// where its items came from ("data", "split", "classes"); item `index` is the
// item's number in that data.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>

#include "imret/core/embedding_set.hpp"
#include "imret/viz/plot.hpp"

namespace imret::data {
class Dataset;
}

namespace imret::viz {

class ItemPictures {
 public:
  // Opens the data `set`'s meta.json names. Throws imret::Error naming
  // `folder` when meta.json has no "data", or when the data cannot be opened.
  ItemPictures(const EmbeddingSet& set, const std::filesystem::path& folder);

  // The image of row `row`, reduced (area averaging) to at most `max_side`
  // pixels on its longer side; never enlarged. The item is the data's item
  // `index` when its source is the one the set recorded; otherwise (a set
  // embedded from part of the data numbers items within that part) the item
  // with that source. Throws imret::Error when the data has no item with the
  // recorded source (the data changed since it was embedded), and
  // data::BadImageError when the image cannot be decoded.
  Picture picture(int64_t row, int max_side) const;

 private:
  int64_t data_index(int64_t row) const;

  mutable std::unordered_map<std::string, int64_t> by_source_;  // filled at the first item not at its index
  const EmbeddingSet& set_;
  std::filesystem::path folder_;
  std::shared_ptr<const data::Dataset> dataset_;
};

}  // namespace imret::viz
