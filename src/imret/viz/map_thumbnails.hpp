#pragma once
// Thumbnails for an embedding map: the images of a few points, spread over
// the map so that they do not cover each other, drawn over the dots.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "imret/viz/plot.hpp"

namespace imret::viz {

class ItemPictures;
struct EmbeddingMap;

// Up to `count` of the M x 2 points, visited in a seeded random order: a point
// is taken when no point taken before lies within `min_distance` (a fraction
// of the larger side of the points' bounding box) of it. Returns point
// indices in the order taken. Non-finite points are never taken.
std::vector<int64_t> spread_out_points(const at::Tensor& points, int64_t count, double min_distance, uint64_t seed);

struct MapThumbnail {
  int64_t point = 0;  // index into the map's points
  Picture picture;
};

// `count` spread-out points of `map` with their images (at most `max_side`
// pixels a side), for write_map_plot. Throws what ItemPictures throws.
std::vector<MapThumbnail> map_thumbnails(const EmbeddingMap& map, const ItemPictures& pictures, int64_t count,
                                         uint64_t seed, int max_side = 64);

}  // namespace imret::viz
