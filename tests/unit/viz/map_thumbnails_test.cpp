// Thumbnails of an embedding map: points spread out, seeded, never non-finite.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>
#include <set>

#include "imret/core/error.hpp"
#include "imret/viz/map_thumbnails.hpp"

using imret::viz::spread_out_points;

namespace {
at::Tensor random_points(int64_t m, uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  return at::rand({m, 2}, generator, at::kFloat) * 100;  // a 100 x 100 box
}
}  // namespace

TEST(MapThumbnails, TakenPointsAreAtLeastTheMinimumDistanceApart) {
  const at::Tensor points = random_points(5000, 1);
  const auto taken = spread_out_points(points, 40, 0.1, 7);
  ASSERT_EQ(taken.size(), 40u);  // a 100 x 100 box holds 40 points 10 apart
  EXPECT_EQ(std::set<int64_t>(taken.begin(), taken.end()).size(), taken.size());
  const auto p = points.accessor<float, 2>();
  double side = 0;
  for (int d = 0; d < 2; ++d) side = std::max(side, (points.select(1, d).max() - points.select(1, d).min()).item<double>());
  for (std::size_t i = 0; i < taken.size(); ++i) {
    for (std::size_t j = i + 1; j < taken.size(); ++j) {
      const double distance = std::hypot(p[taken[i]][0] - p[taken[j]][0], p[taken[i]][1] - p[taken[j]][1]);
      EXPECT_GE(distance, 0.1 * side) << taken[i] << " " << taken[j];
    }
  }
}

TEST(MapThumbnails, StopsWhenNoPointIsFarEnoughAndIsSeeded) {
  const at::Tensor points = random_points(2000, 2);
  // Points 60% of the side apart: at most a handful fit in the box.
  const auto few = spread_out_points(points, 100, 0.6, 0);
  EXPECT_GE(few.size(), 1u);
  EXPECT_LE(few.size(), 4u);
  EXPECT_EQ(spread_out_points(points, 20, 0.05, 3), spread_out_points(points, 20, 0.05, 3));
  EXPECT_NE(spread_out_points(points, 20, 0.05, 3), spread_out_points(points, 20, 0.05, 4));
  EXPECT_TRUE(spread_out_points(points, 0, 0.05, 3).empty());
}

TEST(MapThumbnails, NonFinitePointsAreNeverTakenAndShapesAreChecked) {
  at::Tensor points = random_points(50, 3);
  for (int64_t i = 0; i < 50; i += 2) points[i][0] = NAN;
  for (const int64_t i : spread_out_points(points, 50, 0.0, 1)) EXPECT_EQ(i % 2, 1) << i;
  EXPECT_EQ(spread_out_points(points, 50, 0.0, 1).size(), 25u);  // distance 0: every finite point
  EXPECT_THROW(spread_out_points(at::zeros({5, 3}), 2, 0.1, 0), imret::UsageError);
}
