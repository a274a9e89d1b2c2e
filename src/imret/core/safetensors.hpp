#pragma once
// safetensors (https://github.com/huggingface/safetensors) reader and writer:
// an 8-byte little-endian header length, a JSON header mapping each tensor
// name to {dtype, shape, data_offsets}, then the raw little-endian bytes.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace imret {

struct TensorFile {
  std::vector<std::pair<std::string, at::Tensor>> tensors;  // in file order
  std::map<std::string, std::string> metadata;               // "__metadata__"
};

// Writes CPU copies of the tensors (any layout/device) atomically.
void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Reads every tensor into CPU memory. A malformed header, an unknown dtype,
// offsets outside the data or not matching the shape throw imret::Error
// naming the file and the tensor.
TensorFile load_safetensors(const std::filesystem::path& path);

}  // namespace imret
