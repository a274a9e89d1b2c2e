#pragma once
// A small read-only zip reader for PyTorch's .pth archives (torch.save since
// PyTorch 1.6). It parses the end-of-central-directory record (zip64 where the
// sizes or offsets need it) and the central directory, and reads entries that
// are stored (what PyTorch writes) or deflated (via zlib). It needs no LibTorch
// and never reads outside the bytes it was given: every size and offset is
// checked, and a corrupt archive throws imret::Error naming the display name.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace imret {

struct ZipEntry {
  std::string name;
  uint16_t method = 0;  // 0 stored, 8 deflated
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t local_header_offset = 0;
};

// The bytes of one entry: a view into the archive (stored entries) or into
// `owner` (inflated entries). Valid while the archive's bytes (or `owner`) live.
struct ZipData {
  std::string_view bytes;
  std::shared_ptr<const std::string> owner;
};

class ZipArchive {
 public:
  // Parses the central directory of `bytes` (which must outlive the archive).
  // Throws imret::Error("<display_name>: ...") when it is missing or corrupt.
  ZipArchive(std::string_view bytes, std::string display_name);

  const std::vector<ZipEntry>& entries() const { return entries_; }
  // The entry with this exact name, or nullptr.
  const ZipEntry* find(std::string_view name) const;
  // The uncompressed bytes of `entry`. With `verify_crc` the CRC-32 is checked.
  // Throws imret::Error for a bad local header, data outside the archive, an
  // unsupported compression method, a failed inflate or a CRC mismatch.
  ZipData read(const ZipEntry& entry, bool verify_crc = true) const;

  const std::string& display_name() const { return name_; }

 private:
  std::string_view bytes_;
  std::string name_;
  std::vector<ZipEntry> entries_;
};

// True when `bytes` starts like a zip archive ("PK\x03\x04", or an empty one).
bool looks_like_zip(std::string_view bytes);

}  // namespace imret
