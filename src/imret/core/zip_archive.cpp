#include "imret/core/zip_archive.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>

#include "imret/core/error.hpp"

namespace imret {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfCentralDirectory = 0x06054b50;
constexpr uint32_t kZip64EndOfCentralDirectory = 0x06064b50;
constexpr uint32_t kZip64Locator = 0x07064b50;
constexpr size_t kEocdSize = 22;
constexpr size_t kCentralHeaderSize = 46;
constexpr size_t kLocalHeaderSize = 30;

uint64_t read_le(std::string_view bytes, uint64_t offset, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(bytes[static_cast<size_t>(offset) + static_cast<size_t>(i)]);
  return value;
}

// True when [offset, offset + length) lies inside a buffer of `size` bytes.
bool inside(uint64_t offset, uint64_t length, uint64_t size) { return offset <= size && length <= size - offset; }

}  // namespace

bool looks_like_zip(std::string_view bytes) {
  return bytes.size() >= 4 && bytes[0] == 'P' && bytes[1] == 'K' &&
         ((bytes[2] == '\x03' && bytes[3] == '\x04') || (bytes[2] == '\x05' && bytes[3] == '\x06'));
}

ZipArchive::ZipArchive(std::string_view bytes, std::string display_name)
    : bytes_(bytes), name_(std::move(display_name)) {
  const uint64_t size = bytes_.size();
  if (size < kEocdSize) throw Error(name_ + ": truncated zip archive (" + std::to_string(size) + " bytes)");
  // The end-of-central-directory record is the last 22 bytes plus a comment of
  // at most 65535 bytes: search backwards for its signature.
  uint64_t eocd = UINT64_MAX;
  const uint64_t lowest = size - kEocdSize > 65535 ? size - kEocdSize - 65535 : 0;
  for (uint64_t at = size - kEocdSize + 1; at-- > lowest;) {
    if (read_le(bytes_, at, 4) == kEndOfCentralDirectory && at + kEocdSize + read_le(bytes_, at + 20, 2) <= size) {
      eocd = at;
      break;
    }
  }
  if (eocd == UINT64_MAX)
    throw Error(name_ + ": truncated or corrupt zip archive (no end-of-central-directory record)");
  uint64_t count = read_le(bytes_, eocd + 10, 2);
  uint64_t directory_size = read_le(bytes_, eocd + 12, 4);
  uint64_t directory_offset = read_le(bytes_, eocd + 16, 4);
  if (count == 0xffff || directory_size == 0xffffffff || directory_offset == 0xffffffff) {
    // zip64: a locator just before the record points at the zip64 record.
    if (eocd < 20 || read_le(bytes_, eocd - 20, 4) != kZip64Locator)
      throw Error(name_ + ": corrupt zip archive (zip64 sizes without a zip64 locator)");
    const uint64_t record = read_le(bytes_, eocd - 20 + 8, 8);
    if (!inside(record, 56, size) || read_le(bytes_, record, 4) != kZip64EndOfCentralDirectory)
      throw Error(name_ + ": corrupt zip archive (bad zip64 end-of-central-directory record)");
    count = read_le(bytes_, record + 32, 8);
    directory_size = read_le(bytes_, record + 40, 8);
    directory_offset = read_le(bytes_, record + 48, 8);
  }
  if (!inside(directory_offset, directory_size, size))
    throw Error(name_ + ": truncated or corrupt zip archive (central directory outside the file)");
  if (count > directory_size / kCentralHeaderSize)
    throw Error(name_ + ": corrupt zip archive (" + std::to_string(count) + " entries cannot fit a central directory of " +
                std::to_string(directory_size) + " bytes)");
  entries_.reserve(static_cast<size_t>(count));
  uint64_t at = directory_offset;
  const uint64_t end = directory_offset + directory_size;
  for (uint64_t i = 0; i < count; ++i) {
    if (!inside(at, kCentralHeaderSize, end) || read_le(bytes_, at, 4) != kCentralHeader)
      throw Error(name_ + ": corrupt zip archive (bad central directory entry " + std::to_string(i) + ")");
    ZipEntry entry;
    entry.method = static_cast<uint16_t>(read_le(bytes_, at + 10, 2));
    entry.crc32 = static_cast<uint32_t>(read_le(bytes_, at + 16, 4));
    entry.compressed_size = read_le(bytes_, at + 20, 4);
    entry.uncompressed_size = read_le(bytes_, at + 24, 4);
    const uint64_t name_length = read_le(bytes_, at + 28, 2);
    const uint64_t extra_length = read_le(bytes_, at + 30, 2);
    const uint64_t comment_length = read_le(bytes_, at + 32, 2);
    entry.local_header_offset = read_le(bytes_, at + 42, 4);
    const uint64_t record_size = kCentralHeaderSize + name_length + extra_length + comment_length;
    if (!inside(at, record_size, end))
      throw Error(name_ + ": corrupt zip archive (central directory entry " + std::to_string(i) + " overruns it)");
    entry.name.assign(bytes_.data() + at + kCentralHeaderSize, static_cast<size_t>(name_length));
    // zip64 extra field (id 1): 8-byte values for the fields that are 0xffffffff, in order.
    uint64_t extra = at + kCentralHeaderSize + name_length;
    const uint64_t extra_end = extra + extra_length;
    while (extra + 4 <= extra_end) {
      const uint64_t id = read_le(bytes_, extra, 2);
      const uint64_t length = read_le(bytes_, extra + 2, 2);
      if (extra + 4 + length > extra_end) break;
      if (id == 1) {
        uint64_t field = extra + 4;
        const uint64_t field_end = field + length;
        for (uint64_t* value : {&entry.uncompressed_size, &entry.compressed_size, &entry.local_header_offset}) {
          if (*value != 0xffffffff) continue;
          if (field + 8 > field_end)
            throw Error(name_ + ": corrupt zip archive (short zip64 field for '" + entry.name + "')");
          *value = read_le(bytes_, field, 8);
          field += 8;
        }
      }
      extra += 4 + length;
    }
    entries_.push_back(std::move(entry));
    at += record_size;
  }
}

const ZipEntry* ZipArchive::find(std::string_view name) const {
  for (const auto& entry : entries_)
    if (entry.name == name) return &entry;
  return nullptr;
}

ZipData ZipArchive::read(const ZipEntry& entry, bool verify_crc) const {
  const uint64_t size = bytes_.size();
  const uint64_t local = entry.local_header_offset;
  if (!inside(local, kLocalHeaderSize, size) || read_le(bytes_, local, 4) != kLocalHeader)
    throw Error(name_ + ": corrupt zip archive (bad local header for '" + entry.name + "')");
  const uint64_t data = local + kLocalHeaderSize + read_le(bytes_, local + 26, 2) + read_le(bytes_, local + 28, 2);
  if (!inside(data, entry.compressed_size, size))
    throw Error(name_ + ": truncated zip archive ('" + entry.name + "' lies outside the file)");
  const std::string_view stored = bytes_.substr(static_cast<size_t>(data), static_cast<size_t>(entry.compressed_size));
  ZipData result;
  if (entry.method == 0) {
    if (entry.compressed_size != entry.uncompressed_size)
      throw Error(name_ + ": corrupt zip archive (stored entry '" + entry.name + "' has two sizes)");
    result.bytes = stored;
  } else if (entry.method == 8) {
    // Deflate cannot expand by more than about 1032:1; a larger claim is corrupt.
    if (entry.uncompressed_size / 1032 > entry.compressed_size + 1)
      throw Error(name_ + ": corrupt zip archive ('" + entry.name + "' claims an impossible uncompressed size)");
    auto out = std::make_shared<std::string>(static_cast<size_t>(entry.uncompressed_size), '\0');
    z_stream stream{};
    if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) throw Error(name_ + ": zlib inflateInit failed");
    uint64_t consumed = 0, produced = 0;
    int status = Z_OK;
    while (status == Z_OK) {
      const uint64_t in_chunk = std::min<uint64_t>(stored.size() - consumed, UINT_MAX);
      const uint64_t out_chunk = std::min<uint64_t>(out->size() - produced, UINT_MAX);
      stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(stored.data() + consumed));
      stream.avail_in = static_cast<uInt>(in_chunk);
      stream.next_out = reinterpret_cast<Bytef*>(out->data() + produced);
      stream.avail_out = static_cast<uInt>(out_chunk);
      status = inflate(&stream, Z_NO_FLUSH);
      consumed += in_chunk - stream.avail_in;
      produced += out_chunk - stream.avail_out;
      if (status == Z_OK && in_chunk == stream.avail_in && out_chunk == stream.avail_out) status = Z_BUF_ERROR;
    }
    inflateEnd(&stream);
    if (status != Z_STREAM_END || produced != out->size())
      throw Error(name_ + ": corrupt zip archive (cannot inflate '" + entry.name + "')");
    result.bytes = std::string_view(*out);
    result.owner = std::move(out);
  } else {
    throw Error(name_ + ": zip entry '" + entry.name + "' uses compression method " + std::to_string(entry.method) +
                " (imret reads stored and deflated entries)");
  }
  if (verify_crc) {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t done = 0; done < result.bytes.size();) {
      const size_t chunk = std::min<size_t>(result.bytes.size() - done, UINT_MAX);
      crc = crc32(crc, reinterpret_cast<const Bytef*>(result.bytes.data() + done), static_cast<uInt>(chunk));
      done += chunk;
    }
    if (static_cast<uint32_t>(crc) != entry.crc32)
      throw Error(name_ + ": corrupt zip archive ('" + entry.name + "' fails its CRC-32 check)");
  }
  return result;
}

}  // namespace imret
