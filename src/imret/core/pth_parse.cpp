#include "imret/core/pth_parse.hpp"

#include <cstring>
#include <map>
#include <set>
#include <unordered_set>

#include "imret/core/error.hpp"
#include "imret/core/pickle.hpp"
#include "imret/core/zip_archive.hpp"

namespace imret {
namespace {

using pickle::Kind;
using pickle::Value;

// pickle.dumps(0x1950a86a20f9469cfc6c) as LONG1: the legacy format's magic number.
constexpr unsigned char kMagicNumber[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocolVersion = 1001;
// A tensor with more elements than its storage (stride 0) may not grow past this.
constexpr uint64_t kMaxExpandedBytes = uint64_t{1} << 30;
constexpr int kMaxDepth = 64;
// Shared references let a small pickle describe a huge tree (a list holding the
// same list twice, 40 levels deep): flattening stops after this many values.
constexpr uint64_t kMaxVisits = 1'000'000;
// The tensors may need at most this many bytes beyond 8 times the file's size
// (a tensor referenced under many keys is copied for each).
constexpr uint64_t kMaxOutputSlack = uint64_t{1} << 30;

enum Tag : int64_t { kStorageTag = 1, kTensorTag = 2 };

struct StorageDtype {
  const char* global;
  PthDtype dtype;
};
constexpr StorageDtype kStorageTypes[] = {
    {"FloatStorage", PthDtype::Float32}, {"DoubleStorage", PthDtype::Float64},   {"HalfStorage", PthDtype::Float16},
    {"BFloat16Storage", PthDtype::BFloat16}, {"LongStorage", PthDtype::Int64}, {"IntStorage", PthDtype::Int32},
    {"ShortStorage", PthDtype::Int16},   {"CharStorage", PthDtype::Int8},       {"ByteStorage", PthDtype::UInt8},
    {"BoolStorage", PthDtype::Bool},
};

// Callables the pickle may name (and imret interprets; it calls nothing).
const std::set<std::string> kCallables = {
    "collections.OrderedDict",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._tensor._rebuild_from_type",
    "torch._tensor._rebuild_from_type_v2",
};
// Classes that only appear as arguments (a tensor subclass's type).
const std::set<std::string> kMarkers = {"torch.Tensor", "torch.nn.parameter.Parameter", "torch.nn.Parameter"};

// One use of a storage by a persistent id: its key and the dtype it is read as.
struct StorageUse {
  size_t storage;  // index into PthContents::storages
  PthDtype dtype;
};

struct TensorRef {
  StorageUse storage;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

bool checked_mul(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }
bool checked_add(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_add_overflow(a, b, &out); }

class Reader {
 public:
  Reader(std::string_view bytes, const std::string& name, const PthParseOptions& options)
      : bytes_(bytes), name_(name), options_(options) {
    hooks_.allow_global = [](const std::string& module, const std::string& global) {
      const std::string full = module + "." + global;
      if (kCallables.count(full) || kMarkers.count(full)) return true;
      if (module == "torch")
        for (const auto& s : kStorageTypes)
          if (global == s.global) return true;
      return false;
    };
    hooks_.persistent_load = [this](pickle::Arena& arena, Value* pid) { return persistent_load(arena, pid); };
    hooks_.reduce = [this](pickle::Arena& arena, Value* callable, Value* args) {
      return reduce(arena, callable, args, 0);
    };
  }

  PthContents read_zip();
  PthContents read_legacy();

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(name_ + ": " + what); }

  Value* persistent_load(pickle::Arena& arena, Value* pid);
  Value* reduce(pickle::Arena& arena, Value* callable, Value* args, int depth);
  std::vector<int64_t> int_tuple(Value* v, const char* what) const;
  size_t storage_index(const std::string& key, PthDtype dtype, int64_t numel);

  // Names the tensors under the root and checks them against their storages.
  void collect(Value* root);
  void flatten(Value* v, const std::string& prefix, int depth, std::unordered_set<const Value*>& path);
  void check_tensor(const PthTensor& t);
  void resolve_zip_storage(size_t index, const std::string& tensor_name);

  std::string_view bytes_;
  const std::string& name_;
  const PthParseOptions& options_;
  pickle::Hooks hooks_;
  pickle::Arena arena_;
  PthContents contents_;
  std::map<std::string, size_t> storage_by_key_;
  std::vector<PthDtype> first_dtype_;    // per storage: the dtype of its first use (legacy element size)
  std::vector<bool> resolved_;           // per storage: bytes known
  std::vector<StorageUse> uses_;         // Object kStorageTag -> index here
  std::vector<TensorRef> tensor_refs_;   // Object kTensorTag -> index here
  std::set<std::string> names_;
  uint64_t visits_ = 0;
  uint64_t output_bytes_ = 0;
  // zip only
  const ZipArchive* zip_ = nullptr;
  std::string prefix_;
};

size_t Reader::storage_index(const std::string& key, PthDtype dtype, int64_t numel) {
  (void)numel;
  auto found = storage_by_key_.find(key);
  if (found != storage_by_key_.end()) return found->second;
  const size_t index = contents_.storages.size();
  contents_.storages.push_back(PthStorage{key, {}, nullptr});
  first_dtype_.push_back(dtype);
  resolved_.push_back(false);
  storage_by_key_.emplace(key, index);
  return index;
}

Value* Reader::persistent_load(pickle::Arena& arena, Value* pid) {
  // ('storage', torch.<Type>Storage, key, location, numel[, view_metadata])
  if (pid->kind != Kind::Tuple || pid->items.size() < 5 || pid->items[0]->kind != Kind::String ||
      pid->items[0]->text != "storage")
    fail("pickle has a persistent id that is not a storage");
  Value* type = pid->items[1];
  Value* key = pid->items[2];
  Value* numel = pid->items[4];
  if (type->kind != Kind::Global || key->kind != Kind::String || numel->kind != Kind::Int || numel->integer < 0)
    fail("pickle has a malformed storage reference");
  if (pid->items.size() > 5 && pid->items[5]->kind != Kind::None)
    fail("storage '" + key->text + "' is a storage view (pre-1.0 format), which imret does not read");
  bool known = false;
  PthDtype dtype = PthDtype::Float32;
  for (const auto& s : kStorageTypes)
    if (type->text == std::string("torch.") + s.global) {
      dtype = s.dtype;
      known = true;
    }
  if (!known) fail("storage '" + key->text + "' has type '" + type->text + "', which is not a storage type");
  uses_.push_back(StorageUse{storage_index(key->text, dtype, numel->integer), dtype});
  Value* v = arena.make(Kind::Object);
  v->tag = kStorageTag;
  v->index = static_cast<int64_t>(uses_.size() - 1);
  return v;
}

std::vector<int64_t> Reader::int_tuple(Value* v, const char* what) const {
  if (v->kind != Kind::Tuple && v->kind != Kind::List) fail(std::string("tensor ") + what + " is not a tuple");
  std::vector<int64_t> out;
  for (Value* item : v->items) {
    if (item->kind != Kind::Int || item->integer < 0) fail(std::string("tensor ") + what + " holds a negative or non-integer value");
    out.push_back(item->integer);
  }
  return out;
}

Value* Reader::reduce(pickle::Arena& arena, Value* callable, Value* args, int depth) {
  const std::string& f = callable->text;
  const auto& a = args->items;
  if (depth > kMaxDepth) fail("pickle nests tensor rebuilds too deeply");
  if (f == "collections.OrderedDict") {
    Value* dict = arena.make(Kind::Dict);
    if (a.empty()) return dict;
    if (a.size() == 1 && a[0]->kind == Kind::List) {
      for (Value* pair : a[0]->items) {
        if (pair->kind != Kind::Tuple || pair->items.size() != 2) fail("OrderedDict built from something other than pairs");
        dict->entries.emplace_back(pair->items[0], pair->items[1]);
      }
      return dict;
    }
    fail("pickle calls OrderedDict with unexpected arguments");
  }
  if (f == "torch._utils._rebuild_tensor_v2" || f == "torch._utils._rebuild_tensor") {
    // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
    if (a.size() < 4) fail("pickle calls " + f + " with " + std::to_string(a.size()) + " arguments");
    if (a[0]->kind != Kind::Object || a[0]->tag != kStorageTag) fail("tensor rebuilt from something other than a storage");
    if (a[1]->kind != Kind::Int || a[1]->integer < 0) fail("tensor has a bad storage offset");
    TensorRef ref;
    ref.storage = uses_[static_cast<size_t>(a[0]->index)];
    ref.offset = a[1]->integer;
    ref.sizes = int_tuple(a[2], "size");
    ref.strides = int_tuple(a[3], "stride");
    if (ref.sizes.size() != ref.strides.size()) fail("tensor has " + std::to_string(ref.sizes.size()) +
                                                      " sizes but " + std::to_string(ref.strides.size()) + " strides");
    tensor_refs_.push_back(std::move(ref));
    Value* v = arena.make(Kind::Object);
    v->tag = kTensorTag;
    v->index = static_cast<int64_t>(tensor_refs_.size() - 1);
    return v;
  }
  if (f == "torch._utils._rebuild_parameter" || f == "torch._utils._rebuild_parameter_with_state") {
    // (data, requires_grad, backward_hooks[, state]): the parameter is its data.
    if (a.empty() || a[0]->kind != Kind::Object || a[0]->tag != kTensorTag) fail("parameter rebuilt from something other than a tensor");
    return a[0];
  }
  if (f == "torch._tensor._rebuild_from_type_v2" || f == "torch._tensor._rebuild_from_type") {
    // (func, new_type, args, state): a tensor subclass; imret keeps the plain tensor func(*args) gives.
    if (a.size() < 3 || a[0]->kind != Kind::Global || a[2]->kind != Kind::Tuple)
      fail("pickle calls " + f + " with unexpected arguments");
    if (!kCallables.count(a[0]->text)) fail("pickle calls '" + a[0]->text + "', which imret does not call");
    return reduce(arena, a[0], a[2], depth + 1);
  }
  return nullptr;  // a marker class or a storage type: not callable
}

void Reader::flatten(Value* v, const std::string& prefix, int depth, std::unordered_set<const Value*>& path) {
  if (++visits_ > kMaxVisits)
    fail("the pickle refers to more than " + std::to_string(kMaxVisits) + " values through shared references");
  if (v->kind == Kind::Object && v->tag == kTensorTag) {
    const TensorRef& ref = tensor_refs_[static_cast<size_t>(v->index)];
    if (prefix.empty()) fail("the pickle holds a bare tensor, not a dict of tensors");
    if (!names_.insert(prefix).second) fail("two tensors are named '" + prefix + "'");
    PthTensor t;
    t.name = prefix;
    t.dtype = ref.storage.dtype;
    t.storage = ref.storage.storage;
    t.storage_offset = ref.offset;
    t.sizes = ref.sizes;
    t.strides = ref.strides;
    contents_.tensors.push_back(std::move(t));
    return;
  }
  if (v->kind != Kind::Dict && v->kind != Kind::List && v->kind != Kind::Tuple) return;
  if (depth > kMaxDepth) fail("the pickle nests dicts more than " + std::to_string(kMaxDepth) + " deep");
  if (!path.insert(v).second) return;  // a cycle: already being visited
  const std::string dot = prefix.empty() ? "" : prefix + ".";
  if (v->kind == Kind::Dict) {
    for (const auto& [key, value] : v->entries) {
      if (key->kind == Kind::String)
        flatten(value, dot + key->text, depth + 1, path);
      else if (key->kind == Kind::Int)
        flatten(value, dot + std::to_string(key->integer), depth + 1, path);
    }
  } else {
    for (size_t i = 0; i < v->items.size(); ++i) flatten(v->items[i], dot + std::to_string(i), depth + 1, path);
  }
  path.erase(v);
}

void Reader::collect(Value* root) {
  if (root->kind != Kind::Dict)
    fail(std::string("the pickle holds a ") + pickle::kind_name(root->kind) +
         ", not a dict of tensors (imret reads torch.save(model.state_dict(), f))");
  // A training checkpoint {"model": state_dict, "epoch": 3, ...}: read the state_dict.
  for (int hop = 0; hop < kMaxDepth; ++hop) {
    bool has_tensor = false;
    Value* inner = nullptr;
    for (const auto& [key, value] : root->entries) {
      if (value->kind == Kind::Object && value->tag == kTensorTag) has_tensor = true;
      if (key->kind == Kind::String && value->kind == Kind::Dict && !inner &&
          (key->text == "state_dict" || key->text == "model_state_dict" || key->text == "model"))
        inner = value;
    }
    if (has_tensor || !inner) break;
    root = inner;
  }
  std::unordered_set<const Value*> path;
  flatten(root, "", 0, path);
}

void Reader::check_tensor(const PthTensor& t) {
  const PthStorage& storage = contents_.storages[t.storage];
  const uint64_t element = pth_element_size(t.dtype);
  const uint64_t available = storage.bytes.size() / element;
  uint64_t numel = 1, last = static_cast<uint64_t>(t.storage_offset);
  bool overflow = false;
  for (size_t d = 0; d < t.sizes.size(); ++d) {
    const uint64_t size = static_cast<uint64_t>(t.sizes[d]);
    overflow |= !checked_mul(numel, size, numel);
    uint64_t span = 0;
    if (size > 0) overflow |= !checked_mul(size - 1, static_cast<uint64_t>(t.strides[d]), span);
    overflow |= !checked_add(last, span, last);
  }
  uint64_t bytes = 0;
  overflow |= !checked_mul(numel, element, bytes) || numel > (uint64_t{1} << 62);
  if (overflow) fail("tensor '" + t.name + "' has impossible sizes or strides");
  if (numel == 0) return;
  if (!checked_add(output_bytes_, bytes, output_bytes_) || output_bytes_ / 8 > bytes_.size() + kMaxOutputSlack / 8)
    fail("the tensors would need " + std::to_string(output_bytes_) + " bytes, far more than the file's " +
         std::to_string(bytes_.size()) + " (tensor '" + t.name + "')");
  if (last >= available)
    fail("tensor '" + t.name + "' needs " + std::to_string(last + 1) + " elements of storage '" + storage.key +
         "', which holds only " + std::to_string(available) + " (truncated or corrupt file)");
  if (numel > available && bytes > kMaxExpandedBytes)
    fail("tensor '" + t.name + "' expands its storage to " + std::to_string(bytes) + " bytes");
}

void Reader::resolve_zip_storage(size_t index, const std::string& tensor_name) {
  if (resolved_[index]) return;
  PthStorage& storage = contents_.storages[index];
  const std::string entry_name = prefix_ + "data/" + storage.key;
  const ZipEntry* entry = zip_->find(entry_name);
  if (!entry) fail("tensor '" + tensor_name + "': storage '" + entry_name + "' is missing from the archive");
  ZipData data = zip_->read(*entry, options_.verify_crc);
  storage.bytes = data.bytes;
  storage.owner = std::move(data.owner);
  resolved_[index] = true;
}

PthContents Reader::read_zip() {
  ZipArchive zip(bytes_, name_);
  zip_ = &zip;
  const ZipEntry* pickle_entry = nullptr;
  for (const auto& entry : zip.entries()) {
    const std::string& n = entry.name;
    const size_t slash = n.find('/');
    if (slash != std::string::npos && n.compare(slash + 1, std::string::npos, "data.pkl") == 0) {
      pickle_entry = &entry;
      prefix_ = n.substr(0, slash + 1);
      break;
    }
  }
  if (!pickle_entry) fail("zip archive without <name>/data.pkl: not a file written by torch.save");
  if (const ZipEntry* order = zip.find(prefix_ + "byteorder")) {
    const ZipData data = zip.read(*order, options_.verify_crc);
    if (data.bytes != "little") fail("tensors are stored big-endian, which imret does not read");
  }
  const ZipData pickle_bytes = zip.read(*pickle_entry, options_.verify_crc);
  size_t offset = 0;
  Value* root = pickle::unpickle(pickle_bytes.bytes, offset, arena_, hooks_, name_);
  collect(root);
  for (const auto& t : contents_.tensors) {
    resolve_zip_storage(t.storage, t.name);
    check_tensor(t);
  }
  // Keep only storages that have bytes (those the named tensors use).
  for (size_t i = 0; i < contents_.storages.size(); ++i)
    if (!resolved_[i]) contents_.storages[i].bytes = {};
  contents_.format = "pth-zip";
  zip_ = nullptr;
  return std::move(contents_);
}

PthContents Reader::read_legacy() {
  size_t offset = 0;
  pickle::Hooks plain;  // the header pickles use no globals
  Value* magic = pickle::unpickle(bytes_, offset, arena_, plain, name_);
  if (magic->kind != Kind::BigInt || magic->text != std::string(reinterpret_cast<const char*>(kMagicNumber), 10))
    fail("not a legacy .pth file (bad magic number)");
  Value* protocol = pickle::unpickle(bytes_, offset, arena_, plain, name_);
  if (protocol->kind != Kind::Int || protocol->integer != kLegacyProtocolVersion)
    fail("unsupported legacy .pth protocol version");
  Value* sys_info = pickle::unpickle(bytes_, offset, arena_, plain, name_);
  if (sys_info->kind != Kind::Dict) fail("malformed legacy .pth header");
  for (const auto& [key, value] : sys_info->entries)
    if (key->kind == Kind::String && key->text == "little_endian" && value->kind == Kind::Bool && !value->boolean)
      fail("tensors are stored big-endian, which imret does not read");
  Value* root = pickle::unpickle(bytes_, offset, arena_, hooks_, name_);
  Value* keys = pickle::unpickle(bytes_, offset, arena_, plain, name_);
  if (keys->kind != Kind::List) fail("malformed legacy .pth file (no storage key list)");
  for (Value* key : keys->items) {
    if (key->kind != Kind::String) fail("malformed legacy .pth file (a storage key is not a string)");
    auto found = storage_by_key_.find(key->text);
    if (found == storage_by_key_.end()) fail("storage '" + key->text + "' is listed but the pickle never refers to it");
    const size_t index = found->second;
    if (bytes_.size() - offset < 8) fail("truncated file (storage '" + key->text + "' is missing)");
    uint64_t count = 0;
    for (int i = 7; i >= 0; --i) count = (count << 8) | static_cast<unsigned char>(bytes_[offset + static_cast<size_t>(i)]);
    offset += 8;
    uint64_t size = 0;
    if (!checked_mul(count, pth_element_size(first_dtype_[index]), size) || size > bytes_.size() - offset)
      fail("truncated file (storage '" + key->text + "' needs " + std::to_string(count) + " elements)");
    if (resolved_[index]) fail("storage '" + key->text + "' is listed twice");
    contents_.storages[index].bytes = bytes_.substr(offset, static_cast<size_t>(size));
    resolved_[index] = true;
    offset += static_cast<size_t>(size);
  }
  collect(root);
  for (const auto& t : contents_.tensors) {
    if (!resolved_[t.storage])
      fail("tensor '" + t.name + "': storage '" + contents_.storages[t.storage].key + "' has no data (truncated file?)");
    check_tensor(t);
  }
  contents_.format = "pth-legacy";
  return std::move(contents_);
}

}  // namespace

size_t pth_element_size(PthDtype dtype) {
  switch (dtype) {
    case PthDtype::Float64:
    case PthDtype::Int64: return 8;
    case PthDtype::Float32:
    case PthDtype::Int32: return 4;
    case PthDtype::Float16:
    case PthDtype::BFloat16:
    case PthDtype::Int16: return 2;
    case PthDtype::Int8:
    case PthDtype::UInt8:
    case PthDtype::Bool: return 1;
  }
  return 1;
}

const char* pth_dtype_name(PthDtype dtype) {
  switch (dtype) {
    case PthDtype::Float32: return "float32";
    case PthDtype::Float64: return "float64";
    case PthDtype::Float16: return "float16";
    case PthDtype::BFloat16: return "bfloat16";
    case PthDtype::Int64: return "int64";
    case PthDtype::Int32: return "int32";
    case PthDtype::Int16: return "int16";
    case PthDtype::Int8: return "int8";
    case PthDtype::UInt8: return "uint8";
    case PthDtype::Bool: return "bool";
  }
  return "?";
}

int64_t PthTensor::numel() const {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

bool looks_like_legacy_pth(std::string_view bytes) {
  // PROTO n, then (after a FRAME for protocol >= 4) LONG1 10 <magic>.
  if (bytes.size() < 2 || static_cast<unsigned char>(bytes[0]) != 0x80) return false;
  const std::string magic = std::string("\x8a\x0a", 2) + std::string(reinterpret_cast<const char*>(kMagicNumber), 10);
  return bytes.substr(0, 32).find(magic) != std::string_view::npos;
}

PthContents parse_pth(std::string_view bytes, const std::string& display_name, const PthParseOptions& options) {
  Reader reader(bytes, display_name, options);
  if (looks_like_zip(bytes)) return reader.read_zip();
  if (looks_like_legacy_pth(bytes)) return reader.read_legacy();
  throw Error(display_name + ": not a PyTorch .pth file (neither a zip archive nor a legacy pickle)");
}

}  // namespace imret
