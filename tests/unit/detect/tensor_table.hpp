#pragma once
// Small tensors written out in the tests: rows of numbers.
#include <torch/torch.h>

#include <vector>

namespace imret::testing {

// A K x M tensor of `type` from rows of numbers (K = 0 gives 0 x 0).
inline torch::Tensor table(const std::vector<std::vector<double>>& rows, torch::ScalarType type = torch::kFloat) {
  std::vector<double> flat;
  for (const auto& row : rows) flat.insert(flat.end(), row.begin(), row.end());
  const int64_t k = static_cast<int64_t>(rows.size());
  return torch::tensor(flat, torch::kDouble).reshape({k, k ? -1 : 0}).to(type);
}

}  // namespace imret::testing
