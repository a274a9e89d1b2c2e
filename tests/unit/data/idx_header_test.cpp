// Regression tests for IDX headers found by fuzz/idx_fuzzer: each failed
// before the fix (the empty dataset under UBSan only: the asan preset,
// docs/fuzzing.md).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "imret/core/atomic_file.hpp"
#include "imret/data/idx.hpp"
#include "support/errors.hpp"
#include "test_util.hpp"

namespace fs = std::filesystem;

namespace {

std::string big_endian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// An unsigned-byte IDX file with these dimensions and data.
fs::path idx_file(const fs::path& folder, const std::string& name, const std::vector<uint32_t>& dims,
                  const std::string& data) {
  std::string bytes{0, 0, 8, static_cast<char>(dims.size())};
  for (const uint32_t dim : dims) bytes += big_endian(dim);
  imret::write_file_atomic(folder / name, bytes + data);
  return folder / name;
}

}  // namespace

TEST(IdxHeader, EmptyDatasetLoads) {  // memcpy from the data of an empty tensor (null; UBSan)
  imret::data::testing::TempDir dir("idx_empty");
  const auto images = idx_file(dir.path(), "images", {0, 28, 28}, "");
  const auto labels = idx_file(dir.path(), "labels", {0}, "");
  EXPECT_EQ(imret::data::load_idx_dataset(images, labels, {})->size(), 0);
}

TEST(IdxHeader, DimensionsWhoseProductOverflowsAreAnError) {  // 16 x 2^30 x 2^30 wrapped to 0 bytes
  imret::data::testing::TempDir dir("idx_overflow");
  const auto images = idx_file(dir.path(), "images", {16, 1u << 30, 1u << 30}, "");
  const auto labels = idx_file(dir.path(), "labels", {16}, std::string(16, '\0'));
  EXPECT_EQ(imret::testing::error_of([&] { imret::data::load_idx_dataset(images, labels, {}); }),
            images.string() + ": implausible dimensions (their product overflows 64 bits)");
}
