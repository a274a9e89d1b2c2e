#pragma once
// NumPy .npy files (format 1.0/2.0/3.0) holding a float32 matrix in C order,
// the embeddings format imret shares with the Python world.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace imret {

struct FloatMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> values;  // rows * cols, row-major
};

// Writes a (rows x cols) little-endian float32 C-order array, atomically.
void save_npy(const std::filesystem::path& path, const float* data, int64_t rows, int64_t cols);

// Reads a 1-D or 2-D float32 array ('<f4', C order); 1-D arrays become one
// column. Anything else (other dtype, Fortran order, truncated data) throws
// imret::Error naming the file and the problem.
FloatMatrix load_npy(const std::filesystem::path& path);

}  // namespace imret
