#include "imret/dist/communicator.hpp"

#include <torch/torch.h>

#include <algorithm>

namespace imret::dist {

at::Tensor gather_rows(Communicator& group, const at::Tensor& local, int64_t* offset) {
  const int world = group.world_size();
  const int me = group.rank();
  const at::Tensor count = torch::full({1}, local.size(0), torch::TensorOptions().dtype(torch::kLong));
  std::vector<int64_t> counts;
  for (const at::Tensor& c : group.all_gather(count)) counts.push_back(c.item<int64_t>());
  const int64_t most = *std::max_element(counts.begin(), counts.end());
  std::vector<int64_t> padded_shape = local.sizes().vec();
  padded_shape[0] = most;
  at::Tensor padded = torch::zeros(padded_shape, local.options().requires_grad(false));
  if (local.size(0) > 0) padded.narrow(0, 0, local.size(0)).copy_(local.detach());
  std::vector<at::Tensor> parts = group.all_gather(padded);
  std::vector<at::Tensor> rows;
  int64_t begin = 0;
  for (int r = 0; r < world; ++r) {
    if (r == me) {
      if (offset != nullptr) *offset = begin;
      rows.push_back(local);
    } else {
      rows.push_back(parts[static_cast<size_t>(r)].narrow(0, 0, counts[static_cast<size_t>(r)]));
    }
    begin += counts[static_cast<size_t>(r)];
  }
  return torch::cat(rows, 0);
}

}  // namespace imret::dist
