#pragma once
// Tensors the detect tests write out by hand or exchange with their Python
// references (ops_reference.py, rle_reference.py).
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/reference_files.hpp"

namespace imret::testing {

// A K x M tensor of `type` from rows of numbers (K = 0 gives 0 x 0).
inline torch::Tensor table(const std::vector<std::vector<double>>& rows, torch::ScalarType type = torch::kFloat) {
  std::vector<double> flat;
  for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  const int64_t k = static_cast<int64_t>(rows.size());
  return torch::tensor(flat, torch::kDouble).reshape({k, k ? -1 : 0}).to(type);
}

// Writes `t` as rows (float32, or float64 as float32 hi + lo parts, see
// ops_reference.py); returns the value the reference reads (t itself for float32).
inline torch::Tensor save_value(const std::filesystem::path& dir, const std::string& name, const torch::Tensor& t) {
  if (t.scalar_type() != torch::kDouble) {
    save(dir / (name + ".npy"), t);
    return t;
  }
  const torch::Tensor hi = t.to(torch::kFloat);
  const torch::Tensor lo = (t - hi.to(torch::kDouble)).to(torch::kFloat);
  save(dir / (name + "_hi.npy"), hi);
  save(dir / (name + "_lo.npy"), lo);
  return hi.to(torch::kDouble) + lo.to(torch::kDouble);
}

// A mask as a string of '0' and '1' in row-major order, as rle_reference.py reads it.
inline std::string bits_of(const torch::Tensor& mask) {
  const torch::Tensor m = mask.to(torch::kUInt8).contiguous();
  std::string bits(static_cast<size_t>(m.numel()), '0');
  const auto* p = m.data_ptr<uint8_t>();
  for (int64_t i = 0; i < m.numel(); ++i) bits[static_cast<size_t>(i)] = p[i] ? '1' : '0';
  return bits;
}

}  // namespace imret::testing
