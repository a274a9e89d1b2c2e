// libFuzzer entry point for the .pth parser (zip reader, legacy format,
// unpickler, state_dict interpretation, tensor checks). It needs no LibTorch:
// parse_pth checks everything a tensor needs before LibTorch sees it.
// Any exception other than imret::Error, any crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "imret/core/error.hpp"
#include "imret/core/pth_parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  imret::PthParseOptions options;
  options.verify_crc = false;  // let mutations reach the pickle inside the zip
  try {
    const imret::PthContents contents = imret::parse_pth(bytes, "fuzz.pth", options);
    // Touch every byte a tensor would read, as load_pth does.
    volatile unsigned char sink = 0;
    for (const auto& t : contents.tensors) {
      const auto& storage = contents.storages.at(t.storage);
      if (t.numel() == 0) continue;
      int64_t last = t.storage_offset;
      for (size_t d = 0; d < t.sizes.size(); ++d) last += (t.sizes[d] - 1) * t.strides[d];
      const size_t element = imret::pth_element_size(t.dtype);
      sink = sink + static_cast<unsigned char>(storage.bytes.at(static_cast<size_t>(t.storage_offset) * element));
      sink = sink + static_cast<unsigned char>(storage.bytes.at(static_cast<size_t>(last) * element + element - 1));
    }
  } catch (const imret::Error&) {
  }
  return 0;
}
