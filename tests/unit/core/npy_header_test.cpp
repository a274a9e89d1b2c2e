// Regression tests for .npy headers found by fuzz/npy_fuzzer (and review of
// what it reaches): each failed before the fix, the first under UBSan only
// (the asan preset, docs/fuzzing.md).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/npy.hpp"

#include "support/errors.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;

namespace {

// A version 2.0 .npy file with this header text and data bytes.
fs::path npy_with_header(const std::string& name, const std::string& header, const std::string& data = "") {
  std::string bytes("\x93NUMPY\x02\x00", 8);
  const uint32_t length = static_cast<uint32_t>(header.size());
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  const fs::path path = imret::testing::scratch_path("core_test", name);
  imret::write_file_atomic(path, bytes + header + data);
  return path;
}

}  // namespace

TEST(NpyHeader, EmptyMatrixLoads) {  // memcpy from a null vector (UBSan)
  const fs::path path = npy_with_header("empty.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }\n");
  const imret::FloatMatrix matrix = imret::load_npy(path);
  EXPECT_EQ(matrix.rows, 0);
  EXPECT_EQ(matrix.cols, 3);
  EXPECT_TRUE(matrix.values.empty());
}

TEST(NpyHeader, DimensionBeyondInt64IsAnErrorNamingTheFile) {  // std::out_of_range escaped from std::stoll
  const fs::path path = npy_with_header("huge_dim.npy", "{'descr': '<f4', 'shape': (99999999999999999999,), }\n");
  EXPECT_EQ(imret::testing::error_of([&] { imret::load_npy(path); }),
            path.string() + ": .npy shape has a bad dimension '99999999999999999999'");
}

TEST(NpyHeader, ShapeWhoseSizeOverflowsIsAnError) {  // rows * cols wrapped to 0: accepted with no values
  const fs::path path = npy_with_header("overflow.npy", "{'descr': '<f4', 'shape': (4611686018427387904, 4), }\n");
  EXPECT_EQ(imret::testing::error_of([&] { imret::load_npy(path); }),
            path.string() + ": shape (4611686018427387904, 4) is too large for any file");
}

TEST(NpyHeader, LongHeaderNeedsNoDeepRecursion) {  // std::regex overflowed the stack on 100 KB of dtype text
  const fs::path path = npy_with_header("long.npy", "{'descr': '" + std::string(100000, 'x') + "', 'shape': (1,), }\n");
  EXPECT_NE(imret::testing::error_of([&] { imret::load_npy(path); }).find("is not float32"), std::string::npos);
}

TEST(NpyHeader, ShapesNumpyWritesStillParse) {
  const std::string data(24, '\0');
  for (const auto& [shape, rows, cols] : {std::tuple{"(6,)", 6, 1}, std::tuple{"(2, 3)", 2, 3},
                                          std::tuple{"(3L, 2L)", 3, 2}, std::tuple{"( 1 , 6 , )", 1, 6}}) {
    const fs::path path = npy_with_header("shape.npy", std::string("{'descr': '<f4', 'shape': ") + shape + ", }\n", data);
    const imret::FloatMatrix matrix = imret::load_npy(path);
    EXPECT_EQ(matrix.rows, rows) << shape;
    EXPECT_EQ(matrix.cols, cols) << shape;
  }
  const fs::path bad = npy_with_header("bad_shape.npy", "{'descr': '<f4', 'shape': (2, x), }\n", data);
  EXPECT_EQ(imret::testing::error_of([&] { imret::load_npy(bad); }), bad.string() + ": .npy shape has a bad dimension 'x'");
}
