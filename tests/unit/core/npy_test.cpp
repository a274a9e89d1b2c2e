#include <gtest/gtest.h>
#include "imret/core/npy.hpp"
TEST(Npy, RoundTrip) {
  const float data[6] = {1, 2, 3, 4, 5, 6};
  auto path = std::filesystem::temp_directory_path() / "imret_npy_test.npy";
  imret::save_npy(path, data, 2, 3);
  auto m = imret::load_npy(path);
  EXPECT_EQ(m.rows, 2); EXPECT_EQ(m.cols, 3); EXPECT_EQ(m.values[5], 6.0f);
}
