// libFuzzer entry point for load_safetensors. safetensors.cpp reads from a
// path, so each input goes through a file in /dev/shm (or $TMPDIR).
// Any exception other than imret::Error, any crash or sanitizer report is a bug.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

#include "imret/core/error.hpp"
#include "imret/core/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = [] {
    const char* dir = std::getenv("IMRET_FUZZ_TMP");
    return std::string(dir ? dir : "/dev/shm") + "/imret_fuzz_" + std::to_string(::getpid()) + ".safetensors";
  }();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    imret::load_safetensors(path);
  } catch (const imret::Error&) {
  }
  return 0;
}
