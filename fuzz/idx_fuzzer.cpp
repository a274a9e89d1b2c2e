// libFuzzer entry point for the IDX (MNIST) reader: load_idx_dataset on an
// images file and a labels file (either may be gzip-compressed), the two
// parts of the input (split at imret_fuzz::kPartSeparator), written to
// /dev/shm. A dataset it returns is read back: every label, the first and
// last image. Links Debian's LibTorch. Any exception other than imret::Error,
// any crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "imret/core/error.hpp"
#include "imret/data/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = imret_fuzz::split_parts(imret_fuzz::as_text(data, size), 2);
  const auto images = imret_fuzz::write_file("images-idx3-ubyte", parts[0]);
  const auto labels = imret_fuzz::write_file("labels-idx1-ubyte", parts.size() > 1 ? parts[1] : std::string_view());
  try {
    const auto dataset = imret::data::load_idx_dataset(images, labels, {});
    const int64_t count = dataset->size();
    for (int64_t i = 0; i < count; ++i)
      if (dataset->label(i) < 0 || dataset->label(i) >= static_cast<int64_t>(dataset->classes().size())) __builtin_trap();
    if (count > 0) {
      dataset->load(0);
      dataset->load_many({0, count - 1});
    }
  } catch (const imret::Error&) {
  }
  return 0;
}
