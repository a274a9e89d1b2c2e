#pragma once
// The LibTorch-free half of the .pth reader: parses a torch.save file (zip
// format of PyTorch >= 1.6, or the legacy format of
// `_use_new_zipfile_serialization=False`) into a plain description of its
// tensors (dtype, sizes, strides, storage offset, storage bytes), checking
// everything a tensor needs. load_pth (pth.hpp) turns the description into
// at::Tensors; the fuzzer drives this half alone.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace imret {

// The element types torch storages have that imret reads.
enum class PthDtype { Float32, Float64, Float16, BFloat16, Int64, Int32, Int16, Int8, UInt8, Bool };

size_t pth_element_size(PthDtype dtype);
const char* pth_dtype_name(PthDtype dtype);  // "float32", "int64", ... (torch's names)

struct PthStorage {
  std::string key;                           // the storage's key in the file ("0", "1", ...)
  std::string_view bytes;                    // its raw little-endian bytes
  std::shared_ptr<const std::string> owner;  // set when `bytes` do not point into the file
};

struct PthTensor {
  std::string name;  // the state_dict key (nested dicts: dotted path)
  PthDtype dtype = PthDtype::Float32;
  size_t storage = 0;  // index into PthContents::storages
  int64_t storage_offset = 0;
  std::vector<int64_t> sizes;
  std::vector<int64_t> strides;
  int64_t numel() const;
};

struct PthContents {
  std::string format;  // "pth-zip" or "pth-legacy"
  std::vector<PthStorage> storages;
  std::vector<PthTensor> tensors;  // in the pickle's order
};

struct PthParseOptions {
  bool verify_crc = true;  // zip format: check each entry's CRC-32
};

// Parses `bytes` (the whole file; storages may point into it, so it must
// outlive the result). `display_name` starts every error message.
//
// What is a tensor: the pickle's root must be a dict. If it holds no tensor
// itself but has a dict under "state_dict", "model_state_dict" or "model"
// (a training checkpoint), that dict is read instead. Tensors in nested dicts,
// lists and tuples are named by their dotted path ("model.conv1.weight",
// "layers.0"); values that are not tensors (numbers, strings, a state_dict's
// `_metadata`) are ignored.
//
// Throws imret::Error("<display_name>: ...") for a truncated or corrupt file,
// a pickle asking for a global outside the allow-list, a tensor whose storage
// is missing or smaller than the tensor needs (naming the key), and two
// tensors with the same name.
PthContents parse_pth(std::string_view bytes, const std::string& display_name, const PthParseOptions& options = {});

// The first bytes of a legacy .pth file: a pickled magic number.
bool looks_like_legacy_pth(std::string_view bytes);

}  // namespace imret
