#include "imret/core/safetensors.hpp"

#include <limits>

#include <torch/torch.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

namespace imret {
namespace {

// A JSON list of whole numbers (unsigned 64-bit): a negative, fractional or
// too large number (which nlohmann reads as a float) is an Error naming the
// file, the tensor and the field, never a conversion out of range.
std::vector<uint64_t> whole_numbers(const nlohmann::json& value, const std::string& file, const std::string& key,
                                    const char* field) {
  if (!value.is_array()) throw Error(file + ": tensor '" + key + "': " + field + " is not a list");
  std::vector<uint64_t> out;
  for (const auto& v : value) {
    if (v.is_number_unsigned()) {
      out.push_back(v.get<uint64_t>());
    } else if (v.is_number_integer() && v.get<int64_t>() >= 0) {
      out.push_back(static_cast<uint64_t>(v.get<int64_t>()));
    } else if (v.is_number_integer()) {
      throw Error(file + ": tensor '" + key + "' has a negative " + (std::string(field) == "shape" ? "dimension" : field));
    } else {
      throw Error(file + ": tensor '" + key + "': " + field + " holds " + v.dump() + ", not a whole number in range");
    }
  }
  return out;
}

struct DtypeName {
  const char* name;
  at::ScalarType type;
};
constexpr DtypeName kDtypes[] = {
    {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"I64", at::kLong},
    {"I32", at::kInt},    {"I16", at::kShort}, {"I8", at::kChar},  {"U8", at::kByte},       {"BOOL", at::kBool},
};

const char* dtype_name(at::ScalarType type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d.name;
  throw Error(std::string("safetensors: unsupported tensor dtype ") + c10::toString(type));
}

}  // namespace

void save_safetensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<at::Tensor> contiguous;
  contiguous.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (header.contains(name)) throw Error(path.string() + ": duplicate tensor name '" + name + "'");
    at::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(cpu.numel()) * cpu.element_size();
    header[name] = {{"dtype", dtype_name(cpu.scalar_type())},
                    {"shape", cpu.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(std::move(cpu));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  AtomicFile file(path);
  auto& out = file.stream();
  uint64_t length = text.size();
  unsigned char length_bytes[8];
  for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<unsigned char>((length >> (8 * i)) & 0xff);
  out.write(reinterpret_cast<const char*>(length_bytes), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const auto& t : contiguous)
    out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * t.element_size()));
  file.commit();
}

TensorFile load_safetensors(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const std::string name = path.string();
  if (bytes.size() < 8) throw Error(name + ": not a safetensors file (shorter than 8 bytes)");
  uint64_t header_length = 0;
  for (int i = 7; i >= 0; --i) header_length = (header_length << 8) | static_cast<unsigned char>(bytes[i]);
  if (header_length > bytes.size() - 8)
    throw Error(name + ": truncated or not a safetensors file (header of " + std::to_string(header_length) +
                " bytes, file of " + std::to_string(bytes.size()) + ")");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_length));
  } catch (const nlohmann::json::exception& e) {
    throw Error(name + ": malformed safetensors header: " + e.what());
  }
  if (!header.is_object()) throw Error(name + ": malformed safetensors header: not a JSON object");
  const uint64_t data_start = 8 + header_length;
  const uint64_t data_size = bytes.size() - data_start;

  TensorFile file;
  struct Entry {
    uint64_t begin;
    std::string key;
    at::ScalarType type;
    std::vector<int64_t> shape;
    uint64_t end;
  };
  std::vector<Entry> entries;
  for (const auto& [key, info] : header.items()) {
    if (key == "__metadata__") {
      if (!info.is_object()) throw Error(name + ": __metadata__ is not an object");
      for (const auto& [k, v] : info.items()) {
        if (!v.is_string()) throw Error(name + ": __metadata__ value '" + k + "' is not a string");
        file.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    try {
      Entry e;
      e.key = key;
      const std::string dtype = info.at("dtype").get<std::string>();
      bool known = false;
      for (const auto& d : kDtypes)
        if (dtype == d.name) {
          e.type = d.type;
          known = true;
        }
      if (!known) throw Error(name + ": tensor '" + key + "' has unsupported dtype " + dtype);
      const std::vector<uint64_t> sizes = whole_numbers(info.at("shape"), name, key, "shape");
      for (uint64_t d : sizes) {
        if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
          throw Error(name + ": tensor '" + key + "' has a shape too large for any file");
        e.shape.push_back(static_cast<int64_t>(d));
      }
      const auto offsets = whole_numbers(info.at("data_offsets"), name, key, "data_offsets");
      if (offsets.size() != 2) throw Error(name + ": tensor '" + key + "': data_offsets must have two values");
      e.begin = offsets[0];
      e.end = offsets[1];
      uint64_t expected = c10::elementSize(e.type);
      for (int64_t d : e.shape) {
        if (d < 0) throw Error(name + ": tensor '" + key + "' has a negative dimension");
        if (__builtin_mul_overflow(expected, static_cast<uint64_t>(d), &expected))
          throw Error(name + ": tensor '" + key + "' has a shape too large for any file");
      }
      if (e.end < e.begin || e.end > data_size)
        throw Error(name + ": tensor '" + key + "' lies outside the file (truncated?)");
      if (e.end - e.begin != expected)
        throw Error(name + ": tensor '" + key + "' has " + std::to_string(e.end - e.begin) +
                    " bytes but its shape and dtype need " + std::to_string(expected));
      entries.push_back(std::move(e));
    } catch (const nlohmann::json::exception& ex) {
      throw Error(name + ": tensor '" + key + "': malformed entry: " + ex.what());
    }
  }
  // File order; non-empty tensors must not share bytes (empty ones take none).
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  const Entry* previous = nullptr;
  for (const auto& e : entries) {
    if (e.end == e.begin) continue;
    if (previous && e.begin < previous->end)
      throw Error(name + ": tensors '" + previous->key + "' and '" + e.key + "' overlap");
    previous = &e;
  }
  for (const auto& e : entries) {
    at::Tensor tensor = torch::empty(e.shape, torch::TensorOptions().dtype(e.type));
    if (e.end > e.begin) std::memcpy(tensor.data_ptr(), bytes.data() + data_start + e.begin, e.end - e.begin);
    file.tensors.emplace_back(e.key, std::move(tensor));
  }
  return file;
}

}  // namespace imret
