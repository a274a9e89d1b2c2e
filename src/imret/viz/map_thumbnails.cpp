#include "imret/viz/map_thumbnails.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "imret/core/error.hpp"
#include "imret/viz/embedding_map.hpp"
#include "imret/viz/item_pictures.hpp"

namespace imret::viz {

std::vector<int64_t> spread_out_points(const at::Tensor& points, int64_t count, double min_distance, uint64_t seed) {
  if (points.dim() != 2 || points.size(1) != 2) throw UsageError("thumbnails: the points must be M x 2");
  const at::Tensor xy = points.to(at::kDouble).contiguous();
  const auto a = xy.accessor<double, 2>();
  const int64_t m = xy.size(0);
  double lo_x = INFINITY, hi_x = -INFINITY, lo_y = INFINITY, hi_y = -INFINITY;
  for (int64_t i = 0; i < m; ++i) {
    if (!std::isfinite(a[i][0]) || !std::isfinite(a[i][1])) continue;
    lo_x = std::min(lo_x, a[i][0]);
    hi_x = std::max(hi_x, a[i][0]);
    lo_y = std::min(lo_y, a[i][1]);
    hi_y = std::max(hi_y, a[i][1]);
  }
  std::vector<int64_t> taken;
  if (count <= 0 || !std::isfinite(lo_x)) return taken;
  const double radius = min_distance * std::max(hi_x - lo_x, hi_y - lo_y);
  std::vector<int64_t> order(static_cast<std::size_t>(m));
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 generator(seed);
  std::shuffle(order.begin(), order.end(), generator);
  for (const int64_t i : order) {
    if (!std::isfinite(a[i][0]) || !std::isfinite(a[i][1])) continue;
    const bool clear = std::none_of(taken.begin(), taken.end(), [&](int64_t j) {
      return std::hypot(a[i][0] - a[j][0], a[i][1] - a[j][1]) < radius;
    });
    if (!clear) continue;
    taken.push_back(i);
    if (static_cast<int64_t>(taken.size()) == count) break;
  }
  return taken;
}

std::vector<MapThumbnail> map_thumbnails(const EmbeddingMap& map, const ItemPictures& pictures, int64_t count,
                                         uint64_t seed, int max_side) {
  std::vector<MapThumbnail> thumbnails;
  // Thumbnails are drawn about 5% of the plot's side: 6% apart barely touch.
  for (const int64_t point : spread_out_points(map.points, count, 0.06, seed)) {
    thumbnails.push_back({point, pictures.picture(map.rows[static_cast<std::size_t>(point)], max_side)});
  }
  return thumbnails;
}

}  // namespace imret::viz
