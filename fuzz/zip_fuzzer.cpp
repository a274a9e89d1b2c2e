// libFuzzer entry point for the zip reader (ZipArchive): parses the central
// directory, then reads every entry listed (CRC checked on every other input,
// so that mutations also reach the inflate path past a wrong CRC) and touches
// its first and last byte. Any exception other than imret::Error, any crash
// or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "imret/core/error.hpp"
#include "imret/core/zip_archive.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes = imret_fuzz::as_text(data, size);
  imret::looks_like_zip(bytes);
  try {
    const imret::ZipArchive archive(bytes, "fuzz.zip");
    const bool verify_crc = size % 2 == 0;
    volatile char sink = 0;
    for (const imret::ZipEntry& entry : archive.entries()) {
      if (archive.find(entry.name) == nullptr) __builtin_trap();  // a listed entry must be found by name
      try {
        const imret::ZipData entry_data = archive.read(entry, verify_crc);
        if (!entry_data.bytes.empty()) sink = sink + entry_data.bytes.front() + entry_data.bytes.back();
      } catch (const imret::Error&) {
      }
    }
  } catch (const imret::Error&) {
  }
  return 0;
}
