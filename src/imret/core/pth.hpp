#pragma once
// Reads PyTorch weight files written by torch.save (typically
// `torch.save(model.state_dict(), f)`), in both formats:
//  - zip (PyTorch >= 1.6): "<name>/data.pkl" plus one entry per storage,
//    "<name>/data/<key>";
//  - legacy (`_use_new_zipfile_serialization=False`): pickled magic number,
//    protocol version and system info, the state_dict pickle, the pickled list
//    of storage keys, then each storage's raw bytes after an 8-byte
//    little-endian element count.
// imret's own unpickler (pickle.hpp) reads the state_dict: it only accepts an
// allow-list of globals (OrderedDict, torch's tensor/parameter rebuild
// functions and storage types) and never executes anything.
#include <filesystem>
#include <string>
#include <string_view>

#include "imret/core/pth_parse.hpp"
#include "imret/core/safetensors.hpp"

namespace imret {

// Every tensor of the file as a contiguous CPU tensor with the file's dtype,
// sizes and values (views and shared storages become separate copies), keyed
// as parse_pth (pth_parse.hpp) names them, in the pickle's order. metadata is
// {"format": "pth-zip" | "pth-legacy"}. Throws imret::Error naming the file
// (and the key where there is one) for anything unreadable.
TensorFile load_pth(const std::filesystem::path& path);

// The same from the bytes of a file; `display_name` starts error messages.
TensorFile load_pth(std::string_view bytes, const std::string& display_name);

// Turns a parsed description into tensors (checked by parse_pth already).
TensorFile pth_to_tensors(const PthContents& contents);

}  // namespace imret
