// .pth reading (zip and legacy formats) against files written at test time by
// Debian's Python (torch 1.13, torchvision 0.14): the values must match, byte
// for byte, what Python wrote next to them; corrupt and malicious files must
// give one imret::Error naming the file (and the key or global).
#include "imret/core/pth.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/pickle.hpp"
#include "imret/core/tensor_file.hpp"
#include "imret/core/zip_archive.hpp"

namespace fs = std::filesystem;

namespace {

const char* kFixtureScript = R"PY(
import collections, io, json, os, pickle, sys, zipfile
import torch, torchvision

out = sys.argv[1]
torch.manual_seed(0)

def dump(sd, folder):
    os.makedirs(folder, exist_ok=True)
    manifest = []
    for name, t in sd.items():
        c = t.detach().contiguous()
        if c.dtype == torch.bfloat16:
            c = c.view(torch.int16)
        with open(os.path.join(folder, name + ".bin"), "wb") as f:
            f.write(c.numpy().tobytes())
        manifest.append({"name": name, "dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape)})
    with open(os.path.join(folder, "manifest.json"), "w") as f:
        json.dump(manifest, f)

# Every dtype torchvision weights use (and a few more), views, shared storages,
# a 0-d scalar, an empty tensor, a Parameter.
base = torch.arange(24, dtype=torch.float32) * 0.25 - 3
sd = collections.OrderedDict()
sd["f32"] = torch.randn(3, 4)
sd["f64"] = torch.randn(5, dtype=torch.float64)
sd["f16"] = torch.randn(2, 3).half()
sd["bf16"] = torch.randn(4).bfloat16()
sd["num_batches_tracked"] = torch.tensor(12345678901, dtype=torch.int64)
sd["i32"] = torch.arange(-3, 3, dtype=torch.int32)
sd["i16"] = torch.tensor([-32768, 7, 32767], dtype=torch.int16)
sd["i8"] = torch.tensor([-128, 0, 127], dtype=torch.int8)
sd["u8"] = torch.arange(250, 256).to(torch.uint8)
sd["mask"] = torch.tensor([True, False, True, True])
sd["empty"] = torch.empty(0, 3)
sd["scalar"] = torch.tensor(-2.5)
sd["transposed"] = base.view(4, 6).t()
sd["strided"] = base.view(4, 6)[1:, ::2]
sd["shared_a"] = base[2:8]
sd["shared_b"] = base[10:]
sd["expanded"] = torch.tensor([1.0, 2.0]).expand(3, 2)
sd["param"] = torch.nn.Parameter(torch.randn(2, 2))
sd._metadata = collections.OrderedDict([("", {"version": 1})])
dump(sd, os.path.join(out, "all"))
torch.save(sd, os.path.join(out, "all_zip.pth"))
torch.save(sd, os.path.join(out, "all_legacy.pth"), _use_new_zipfile_serialization=False)
torch.save(sd, os.path.join(out, "all_zip_p4.pth"), pickle_protocol=4)
torch.save(sd, os.path.join(out, "all_legacy_p4.pth"), _use_new_zipfile_serialization=False, pickle_protocol=4)

# The same zip archive with deflated entries (torch writes them stored).
with zipfile.ZipFile(os.path.join(out, "all_zip.pth")) as src, \
     zipfile.ZipFile(os.path.join(out, "all_deflated.pth"), "w", zipfile.ZIP_DEFLATED) as dst:
    for name in src.namelist():
        dst.writestr(name, src.read(name))

# A training checkpoint and a nested dict.
small = collections.OrderedDict([("w", torch.ones(2)), ("b", torch.zeros(1))])
torch.save({"epoch": 3, "model": small, "optimizer": {"lr": 0.1}}, os.path.join(out, "checkpoint.pth"))
torch.save({"a": {"b": torch.ones(1)}, "c": [torch.zeros(2), torch.ones(3)], "n": 4}, os.path.join(out, "nested.pth"))

# torchvision resnet18 with non-trivial batch-norm statistics.
model = torchvision.models.resnet18()
model.train()
with torch.no_grad():
    model(torch.randn(2, 3, 64, 64))
rsd = model.state_dict()
torch.save(rsd, os.path.join(out, "resnet18_zip.pth"))
torch.save(rsd, os.path.join(out, "resnet18_legacy.pth"), _use_new_zipfile_serialization=False)
picked = collections.OrderedDict((k, rsd[k]) for k in
    ["conv1.weight", "bn1.running_mean", "bn1.num_batches_tracked", "layer4.1.bn2.running_var", "fc.bias"])
dump(picked, os.path.join(out, "resnet18"))
with open(os.path.join(out, "resnet18", "keys.json"), "w") as f:
    json.dump([[k, list(v.shape)] for k, v in rsd.items()], f)
torch.save(model, os.path.join(out, "whole_model.pth"))

# Malicious: a pickle that asks for os.system (wrapped in both formats).
evil = b"\x80\x02cos\nsystem\nX" + len(b"touch " + os.path.join(out, "pwned").encode()).to_bytes(4, "little") + \
       b"touch " + os.path.join(out, "pwned").encode() + b"\x85R."
with zipfile.ZipFile(os.path.join(out, "evil_zip.pth"), "w") as z:
    z.writestr("archive/data.pkl", evil)
    z.writestr("archive/version", "3\n")
header = io.BytesIO()
for obj in (0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001, "little_endian": True}):
    pickle.dump(obj, header, protocol=2)
with open(os.path.join(out, "evil_legacy.pth"), "wb") as f:
    f.write(header.getvalue() + evil)

# One 4 MB tensor under 300 keys: 1.2 GB of copies from a 4 MB file.
big = torch.zeros(1 << 20)
torch.save({f"k{i}": big for i in range(300)}, os.path.join(out, "many_refs.pth"))

# A storage smaller than its tensor: storage 0 of the small zip cut to 4 bytes.
with zipfile.ZipFile(os.path.join(out, "all_zip.pth")) as src, \
     zipfile.ZipFile(os.path.join(out, "short_storage.pth"), "w") as dst:
    for name in src.namelist():
        data = src.read(name)
        dst.writestr(name, data[:4] if name.endswith("/data/0") else data)
)PY";

// Removes the fixture folder when the test program ends.
struct RemoveAtExit {
  fs::path dir;
  ~RemoveAtExit() {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
  }
};
RemoveAtExit remove_at_exit;

// Runs the fixture script once per test program; returns its output folder.
const fs::path& fixtures() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("imret_pth_test_" + std::to_string(::getpid()));
    fs::create_directories(d);
    remove_at_exit.dir = d;
    imret::write_file_atomic(d / "make.py", kFixtureScript);
    const std::string command = "/usr/bin/python3 '" + (d / "make.py").string() + "' '" + d.string() + "'";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("fixture script failed: " + command);
    return d;
  }();
  return dir;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const imret::Error& e) {
    return e.what();
  }
  return "(no error)";
}

at::ScalarType dtype_of(const std::string& name) {
  static const std::map<std::string, at::ScalarType> types = {
      {"float32", at::kFloat}, {"float64", at::kDouble}, {"float16", at::kHalf}, {"bfloat16", at::kBFloat16},
      {"int64", at::kLong},    {"int32", at::kInt},      {"int16", at::kShort},  {"int8", at::kChar},
      {"uint8", at::kByte},    {"bool", at::kBool}};
  return types.at(name);
}

// Every tensor the manifest lists must be in `file` with its dtype, shape and
// exactly the bytes Python wrote.
void expect_matches_python(const imret::TensorFile& file, const fs::path& folder, bool all_keys,
                           const std::string& skip = "") {
  nlohmann::json manifest = nlohmann::json::parse(imret::read_file(folder / "manifest.json"));
  if (all_keys) ASSERT_EQ(file.tensors.size(), manifest.size());
  for (const auto& entry : manifest) {
    const std::string name = entry["name"];
    if (name == skip) continue;
    SCOPED_TRACE(name);
    auto found = std::find_if(file.tensors.begin(), file.tensors.end(), [&](const auto& p) { return p.first == name; });
    ASSERT_NE(found, file.tensors.end());
    const at::Tensor& t = found->second;
    EXPECT_EQ(t.scalar_type(), dtype_of(entry["dtype"]));
    EXPECT_EQ(t.sizes().vec(), entry["shape"].get<std::vector<int64_t>>());
    EXPECT_TRUE(t.is_contiguous());
    const std::string expected = imret::read_file(folder / (name + ".bin"));
    ASSERT_EQ(static_cast<size_t>(t.numel() * t.element_size()), expected.size());
    if (!expected.empty()) EXPECT_EQ(std::memcmp(t.data_ptr(), expected.data(), expected.size()), 0);  // null when empty
  }
  if (all_keys)
    for (size_t i = 0; i < manifest.size(); ++i) EXPECT_EQ(file.tensors[i].first, manifest[i]["name"]);
}

std::string cut(const fs::path& from, size_t keep, const std::string& name) {
  std::string bytes = imret::read_file(from);
  bytes.resize(std::min(keep, bytes.size()));
  const fs::path to = fixtures() / name;
  imret::write_file_atomic(to, bytes);
  return to.string();
}

}  // namespace

TEST(Pth, EveryDtypeViewsAndSharedStoragesInBothFormatsAndProtocols) {
  for (const char* file : {"all_zip.pth", "all_legacy.pth", "all_zip_p4.pth", "all_legacy_p4.pth", "all_deflated.pth"}) {
    SCOPED_TRACE(file);
    const imret::TensorFile loaded = imret::load_pth(fixtures() / file);
    expect_matches_python(loaded, fixtures() / "all", true);
    EXPECT_EQ(loaded.metadata.at("format"), std::string(file).find("legacy") != std::string::npos ? "pth-legacy" : "pth-zip");
  }
}

TEST(Pth, LoadTensorFileChoosesTheReaderByContent) {
  EXPECT_EQ(imret::detect_tensor_file_format(fixtures() / "all_zip.pth"), imret::TensorFileFormat::PthZip);
  EXPECT_EQ(imret::detect_tensor_file_format(fixtures() / "all_legacy.pth"), imret::TensorFileFormat::PthLegacy);
  EXPECT_EQ(imret::detect_tensor_file_format(fixtures() / "all_legacy_p4.pth"), imret::TensorFileFormat::PthLegacy);
  const imret::TensorFile pth = imret::load_tensor_file(fixtures() / "all_legacy.pth");
  // Round trip through safetensors, named .pth on purpose: the content decides.
  const fs::path converted = fixtures() / "converted.pth";
  const std::vector<std::pair<std::string, at::Tensor>> tensors = pth.tensors;
  imret::save_safetensors(converted, tensors);
  EXPECT_EQ(imret::detect_tensor_file_format(converted), imret::TensorFileFormat::Safetensors);
  expect_matches_python(imret::load_tensor_file(converted), fixtures() / "all", false, "empty");
  EXPECT_EQ(imret::load_tensor_file(converted).tensors.size(), pth.tensors.size());

  imret::write_file_atomic(fixtures() / "text.pth", "hello, I am not a weight file\n");
  EXPECT_EQ(error_of([] { imret::load_tensor_file(fixtures() / "text.pth"); }),
            (fixtures() / "text.pth").string() + ": not a PyTorch (.pth) or safetensors file");
  EXPECT_NE(error_of([] { imret::load_tensor_file(fixtures() / "missing.pth"); }).find("missing.pth: no such file"),
            std::string::npos);
}

TEST(Pth, TorchvisionResnet18InBothFormats) {
  const nlohmann::json keys = nlohmann::json::parse(imret::read_file(fixtures() / "resnet18" / "keys.json"));
  ASSERT_EQ(keys.size(), 122u);
  const imret::TensorFile zip = imret::load_pth(fixtures() / "resnet18_zip.pth");
  const imret::TensorFile legacy = imret::load_pth(fixtures() / "resnet18_legacy.pth");
  for (const imret::TensorFile* file : {&zip, &legacy}) {
    ASSERT_EQ(file->tensors.size(), 122u);
    for (size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(file->tensors[i].first, keys[i][0].get<std::string>());
      EXPECT_EQ(file->tensors[i].second.sizes().vec(), keys[i][1].get<std::vector<int64_t>>());
    }
    expect_matches_python(*file, fixtures() / "resnet18", false);
  }
  EXPECT_EQ(zip.tensors[0].first, "conv1.weight");
  EXPECT_EQ(zip.tensors.back().first, "fc.bias");
  for (size_t i = 0; i < zip.tensors.size(); ++i) EXPECT_TRUE(torch::equal(zip.tensors[i].second, legacy.tensors[i].second));
}

TEST(Pth, CheckpointsAndNestedDicts) {
  const imret::TensorFile checkpoint = imret::load_pth(fixtures() / "checkpoint.pth");
  ASSERT_EQ(checkpoint.tensors.size(), 2u);
  EXPECT_EQ(checkpoint.tensors[0].first, "w");
  EXPECT_EQ(checkpoint.tensors[1].first, "b");
  EXPECT_TRUE(torch::equal(checkpoint.tensors[0].second, torch::ones(2)));
  const imret::TensorFile nested = imret::load_pth(fixtures() / "nested.pth");
  ASSERT_EQ(nested.tensors.size(), 3u);
  EXPECT_EQ(nested.tensors[0].first, "a.b");
  EXPECT_EQ(nested.tensors[1].first, "c.0");
  EXPECT_EQ(nested.tensors[2].first, "c.1");
  EXPECT_TRUE(torch::equal(nested.tensors[2].second, torch::ones(3)));
}

TEST(Pth, MaliciousPicklesAreRefusedWithoutRunningAnything) {
  for (const char* file : {"evil_zip.pth", "evil_legacy.pth"}) {
    const std::string path = (fixtures() / file).string();
    EXPECT_EQ(error_of([&] { imret::load_pth(path); }),
              path + ": pickle asks for global 'os.system', which imret does not load");
  }
  EXPECT_FALSE(fs::exists(fixtures() / "pwned"));
  const std::string whole = (fixtures() / "whole_model.pth").string();
  const std::string message = error_of([&] { imret::load_pth(whole); });
  EXPECT_EQ(message.rfind(whole + ": pickle asks for global 'torchvision.models.resnet.ResNet'", 0), 0u) << message;
}

TEST(Pth, StorageSmallerThanItsTensorNamesTheKey) {
  const std::string path = (fixtures() / "short_storage.pth").string();
  const std::string message = error_of([&] { imret::load_pth(path); });
  EXPECT_EQ(message.rfind(path + ": tensor 'f32' needs 12 elements of storage '0', which holds only 1", 0), 0u) << message;
}

TEST(Pth, SharedReferencesCannotBlowUpMemory) {
  const std::string path = (fixtures() / "many_refs.pth").string();
  const std::string message = error_of([&] { imret::load_pth(path); });
  EXPECT_EQ(message.rfind(path + ": the tensors would need ", 0), 0u) << message;
  // (x, x) nested 40 deep through the memo: 2^40 leaves from a 250-byte pickle.
  std::string bytes("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03.\x80\x02}.", 25);
  bytes += std::string("\x80\x02}X\x01\x00\x00\x00" "aN\x85", 11);
  for (int i = 0; i < 40; ++i) bytes += std::string("q\x00h\x00\x86", 5);
  bytes += "s.\x80\x02].";
  EXPECT_EQ(error_of([&] { imret::parse_pth(bytes, "laughs.pth"); }),
            "laughs.pth: the pickle refers to more than 1000000 values through shared references");
}

TEST(Pth, TruncatedFilesGiveOneLineErrors) {
  for (const char* source : {"resnet18_zip.pth", "resnet18_legacy.pth", "all_zip.pth", "all_legacy.pth"}) {
    const fs::path from = fixtures() / source;
    const size_t size = fs::file_size(from);
    for (size_t keep : {size_t{0}, size_t{3}, size_t{20}, size_t{200}, size / 2, size - 30, size - 1}) {
      SCOPED_TRACE(std::string(source) + " cut to " + std::to_string(keep));
      const std::string path = cut(from, keep, "cut.pth");
      const std::string message = error_of([&] { imret::load_tensor_file(path); });
      EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
  const std::string path = cut(fixtures() / "resnet18_legacy.pth", fs::file_size(fixtures() / "resnet18_legacy.pth") - 1, "cut.pth");
  EXPECT_NE(error_of([&] { imret::load_pth(path); }).find("truncated file (storage"), std::string::npos);
  const std::string zip = cut(fixtures() / "resnet18_zip.pth", fs::file_size(fixtures() / "resnet18_zip.pth") - 10, "cut.pth");
  EXPECT_EQ(error_of([&] { imret::load_pth(zip); }),
            zip + ": truncated or corrupt zip archive (no end-of-central-directory record)");
}

TEST(Pth, CorruptZipDirectoryAndData) {
  std::string bytes = imret::read_file(fixtures() / "all_zip.pth");
  const fs::path path = fixtures() / "corrupt.pth";
  // The central directory's first entry loses its signature.
  std::string bad = bytes;
  bad[bad.find(std::string("PK\x01\x02", 4))] = 'X';
  imret::write_file_atomic(path, bad);
  EXPECT_EQ(error_of([&] { imret::load_pth(path); }), path.string() + ": corrupt zip archive (bad central directory entry 0)");
  // A byte of a storage flips: the CRC-32 catches it.
  bad = bytes;
  const size_t data0 = bad.find("all_zip/data/0");
  ASSERT_NE(data0, std::string::npos);
  bad[bad.find_first_not_of('Z', bad.find("ZZZZ", data0))] ^= 0x5a;  // the storage's first byte
  imret::write_file_atomic(path, bad);
  EXPECT_NE(error_of([&] { imret::load_pth(path); }).find("fails its CRC-32 check"), std::string::npos);
  // The central directory offset points past the end.
  bad = bytes;
  const size_t eocd = bad.rfind(std::string("PK\x05\x06", 4));
  bad[eocd + 19] = '\x7f';
  imret::write_file_atomic(path, bad);
  EXPECT_EQ(error_of([&] { imret::load_pth(path); }),
            path.string() + ": truncated or corrupt zip archive (central directory outside the file)");
}

// The unpickler alone, on hand-written pickles.
namespace {
imret::pickle::Value* unpickle(const std::string& bytes, imret::pickle::Arena& arena,
                               const imret::pickle::Hooks& hooks = {}) {
  size_t offset = 0;
  return imret::pickle::unpickle(bytes, offset, arena, hooks, "x.pkl");
}
std::string unpickle_error(const std::string& bytes) {
  imret::pickle::Arena arena;
  return error_of([&] { unpickle(bytes, arena); });
}
}  // namespace

TEST(Pickle, ValuesOfEveryOpcodeFamily) {
  imret::pickle::Arena arena;
  // pickle.dumps({'a': l, 'b': ((-1,), l), 'c': True}, protocol=3) with
  // l = [1, -2, 300, 70000, True, None, 1.5, b'xy'].
  const std::string bytes(
      "\x80\x03}q\x00(X\x01\x00\x00\x00" "aq\x01]q\x02(K\x01J\xfe\xff\xff\xffM,\x01Jp\x11\x01\x00\x88NG?\xf8\x00\x00\x00"
      "\x00\x00\x00" "C\x02xyq\x03" "eX\x01\x00\x00\x00" "bq\x04J\xff\xff\xff\xff\x85q\x05h\x02\x86q\x06X\x01\x00\x00\x00" "cq\x07"
      "\x88u.",
      83);
  imret::pickle::Value* v = unpickle(bytes, arena);
  ASSERT_EQ(v->kind, imret::pickle::Kind::Dict);
  ASSERT_EQ(v->entries.size(), 3u);
  const auto& list = v->entries[0].second->items;
  ASSERT_EQ(list.size(), 8u);
  EXPECT_EQ(list[0]->integer, 1);
  EXPECT_EQ(list[1]->integer, -2);
  EXPECT_EQ(list[2]->integer, 300);
  EXPECT_EQ(list[3]->integer, 70000);
  EXPECT_TRUE(list[4]->boolean);
  EXPECT_EQ(list[5]->kind, imret::pickle::Kind::None);
  EXPECT_EQ(list[6]->real, 1.5);
  EXPECT_EQ(list[7]->kind, imret::pickle::Kind::Bytes);
  EXPECT_EQ(list[7]->text, "xy");
  const auto* b = v->entries[1].second;
  ASSERT_EQ(b->kind, imret::pickle::Kind::Tuple);
  ASSERT_EQ(b->items.size(), 2u);
  EXPECT_EQ(b->items[0]->items[0]->integer, -1);
  EXPECT_EQ(b->items[1], v->entries[0].second);  // BINGET gives the same list
  EXPECT_EQ(v->entries[2].first->text, "c");
  // LONG1: 12345678901, -1, and a 10-byte value kept as bytes.
  EXPECT_EQ(unpickle(std::string("\x80\x02\x8a\x05\x35\x1c\xdc\xdf\x02.", 10), arena)->integer, 12345678901);
  EXPECT_EQ(unpickle(std::string("\x80\x02\x8a\x01\xff.", 6), arena)->integer, -1);
  EXPECT_EQ(unpickle(std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15), arena)->kind,
            imret::pickle::Kind::BigInt);
}

TEST(Pickle, MalformedPicklesNameTheProblem) {
  EXPECT_EQ(unpickle_error("\x80\x02\xff."), "x.pkl: unknown or unsupported pickle opcode 0xff (pickle offset 2)");
  EXPECT_EQ(unpickle_error("\x80\x02I1\n."), "x.pkl: unknown or unsupported pickle opcode 0x49 ('I') (pickle offset 2)");
  EXPECT_EQ(unpickle_error(std::string("\x80\x02X\x10\x00\x00\x00" "ab", 9)), "x.pkl: truncated pickle (file ends inside it)");
  EXPECT_EQ(unpickle_error("\x80\x02."), "x.pkl: pickle stack underflow (pickle offset 2)");
  EXPECT_EQ(unpickle_error("\x80\x02h\x05."), "x.pkl: pickle refers to memo entry 5 that was never stored (pickle offset 2)");
  EXPECT_EQ(unpickle_error("\x80\x02K\x01t."), "x.pkl: pickle uses a MARK that was never set (pickle offset 4)");
  EXPECT_EQ(unpickle_error(std::string("\x80\x02K\x00K\x01K\x02s.", 9)), "x.pkl: pickle sets an item on a int (pickle offset 8)");
  EXPECT_EQ(unpickle_error("\x80\x02\x8c\x05posix\x8c\x06system\x93."),
            "x.pkl: pickle asks for global 'posix.system', which imret does not load");
  EXPECT_EQ(unpickle_error("\x80\x02(K\x01u."), "x.pkl: pickle SETITEMS with an odd number of items (pickle offset 5)");
  EXPECT_EQ(unpickle_error("\x80\x02K\x01" "a."), "x.pkl: pickle stack underflow (pickle offset 4)");
}

TEST(Pickle, CyclesNeitherHangNorLeak) {
  imret::pickle::Arena arena;
  // m = []; m.append(m); pickle.dumps({'x': m}, protocol=2)
  imret::pickle::Value* v = unpickle(std::string("\x80\x02}q\x00X\x01\x00\x00\x00xq\x01]q\x02h\x02" "as.", 22), arena);
  ASSERT_EQ(v->kind, imret::pickle::Kind::Dict);
  EXPECT_EQ(v->entries[0].second->items[0], v->entries[0].second);
}

// Found while testing the .pth reader: an empty tensor [40, 40) next to
// [40, 44) was reported as overlapping it.
TEST(Safetensors, EmptyTensorNextToAnotherIsNoOverlap) {
  const fs::path path = fixtures() / "empty_next.safetensors";
  // The tensors of the fixture, whose "empty" comes just before "scalar".
  const auto tensors = imret::load_pth(fixtures() / "all_zip.pth").tensors;
  imret::save_safetensors(path, tensors);
  EXPECT_EQ(imret::load_safetensors(path).tensors.size(), tensors.size());
}

// Found by hand after fuzzing (the 60-second fuzz run did not reach it): a
// shape whose element count overflows 64 bits to 0 passed the size check and
// LibTorch threw c10::Error (not imret::Error).
namespace {
fs::path overflowing_safetensors() {
  const std::string header =
      R"({"x":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})";
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  const fs::path path = fixtures() / "overflow.safetensors";
  imret::write_file_atomic(path, bytes + header);
  return path;
}
}  // namespace

TEST(Pth, LoadTensorFileTurnsLibTorchErrorsIntoOneLine) {
  const fs::path path = overflowing_safetensors();
  const std::string message = error_of([&] { imret::load_tensor_file(path); });
  EXPECT_EQ(message, path.string() + ": tensor 'x' has a shape too large for any file");
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(Safetensors, ShapeWhoseElementCountOverflowsIsAnImretError) {
  const fs::path path = overflowing_safetensors();
  EXPECT_THROW(imret::load_safetensors(path), imret::Error);
}
