// libFuzzer entry point for load_npy. npy.cpp reads from a path, so each input
// goes through a file in /dev/shm (or $IMRET_FUZZ_TMP). A matrix it returns
// must hold rows x cols values. Any exception other than imret::Error, any
// crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "imret/core/error.hpp"
#include "imret/core/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = imret_fuzz::write_file("input.npy", imret_fuzz::as_text(data, size));
  try {
    const imret::FloatMatrix matrix = imret::load_npy(path);
    if (matrix.rows < 0 || matrix.cols < 0 ||
        matrix.values.size() != static_cast<size_t>(matrix.rows) * static_cast<size_t>(matrix.cols))
      __builtin_trap();
  } catch (const imret::Error&) {
  }
  return 0;
}
