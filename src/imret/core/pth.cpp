#include "imret/core/pth.hpp"

#include <torch/torch.h>

#include <cstring>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

namespace imret {
namespace {

at::ScalarType scalar_type(PthDtype dtype) {
  switch (dtype) {
    case PthDtype::Float32: return at::kFloat;
    case PthDtype::Float64: return at::kDouble;
    case PthDtype::Float16: return at::kHalf;
    case PthDtype::BFloat16: return at::kBFloat16;
    case PthDtype::Int64: return at::kLong;
    case PthDtype::Int32: return at::kInt;
    case PthDtype::Int16: return at::kShort;
    case PthDtype::Int8: return at::kChar;
    case PthDtype::UInt8: return at::kByte;
    case PthDtype::Bool: return at::kBool;
  }
  return at::kFloat;
}

}  // namespace

TensorFile pth_to_tensors(const PthContents& contents) {
  TensorFile file;
  file.metadata["format"] = contents.format;
  // Storages whose bytes are not aligned for their dtype (legacy files) are
  // copied once into an aligned buffer.
  std::vector<at::Tensor> aligned(contents.storages.size());
  for (const PthTensor& t : contents.tensors) {
    const PthStorage& storage = contents.storages[t.storage];
    const at::ScalarType type = scalar_type(t.dtype);
    at::Tensor out = torch::empty(t.sizes, torch::TensorOptions().dtype(type));
    if (out.numel() > 0) {
      const size_t element = pth_element_size(t.dtype);
      const char* data = storage.bytes.data();
      if (reinterpret_cast<uintptr_t>(data) % 8 != 0) {
        if (!aligned[t.storage].defined()) {
          aligned[t.storage] = torch::empty({static_cast<int64_t>(storage.bytes.size())}, torch::kByte);
          std::memcpy(aligned[t.storage].data_ptr(), data, storage.bytes.size());
        }
        data = static_cast<const char*>(aligned[t.storage].data_ptr());
      }
      const int64_t elements = static_cast<int64_t>(storage.bytes.size() / element);
      // Bool bytes other than 0/1 would be undefined behaviour: read them as bytes.
      const at::ScalarType read_type = type == at::kBool ? at::kByte : type;
      at::Tensor flat = torch::from_blob(const_cast<char*>(data), {elements}, torch::TensorOptions().dtype(read_type));
      at::Tensor view = flat.as_strided(t.sizes, t.strides, t.storage_offset);
      if (type == at::kBool)
        out.copy_(view.ne(0));
      else
        out.copy_(view);
    }
    file.tensors.emplace_back(t.name, std::move(out));
  }
  return file;
}

TensorFile load_pth(std::string_view bytes, const std::string& display_name) {
  return pth_to_tensors(parse_pth(bytes, display_name));
}

TensorFile load_pth(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  return load_pth(bytes, path.string());
}

}  // namespace imret
