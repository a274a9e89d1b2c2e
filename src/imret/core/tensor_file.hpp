#pragma once
// One entry point for weight files: PyTorch .pth (zip or legacy, see pth.hpp)
// or safetensors, chosen by the file's content, not its name.
#include <filesystem>
#include <string_view>

#include "imret/core/safetensors.hpp"

namespace imret {

enum class TensorFileFormat { PthZip, PthLegacy, Safetensors, Unknown };

// "pth-zip", "pth-legacy", "safetensors", "unknown".
const char* tensor_file_format_name(TensorFileFormat format);

// From the first bytes of a file (16 are enough): zip magic "PK\x03\x04" ->
// PthZip; a pickle (0x80 <protocol>) of torch's legacy magic number ->
// PthLegacy; an 8-byte header length followed by '{' -> Safetensors.
TensorFileFormat sniff_tensor_file_format(std::string_view head);

// Reads the first bytes of `path`; throws imret::Error when it cannot be read.
TensorFileFormat detect_tensor_file_format(const std::filesystem::path& path);

// Every tensor of a .pth or safetensors file (CPU, in file order). Throws
// imret::Error("<file>: not a PyTorch (.pth) or safetensors file") when the
// content is neither, and the readers' errors otherwise.
TensorFile load_tensor_file(const std::filesystem::path& path);

}  // namespace imret
