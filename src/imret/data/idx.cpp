#include "imret/data/idx.hpp"

#include <torch/torch.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>

#include "imret/core/atomic_file.hpp"

namespace imret::data {

namespace fs = std::filesystem;

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

namespace {

bool is_gzip(const std::string& bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
         static_cast<unsigned char>(bytes[1]) == 0x8b;
}

// Inflates a whole gzip stream (several concatenated members allowed).
std::string gunzip(const std::string& compressed, const fs::path& file) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) throw Error(file.string() + ": cannot initialise zlib");
  std::string out;
  out.resize(std::max<size_t>(compressed.size() * 4, 1 << 16));
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());
  size_t produced = 0;
  int status = Z_OK;
  while (true) {
    if (produced == out.size()) out.resize(out.size() * 2);
    stream.next_out = reinterpret_cast<Bytef*>(&out[produced]);
    stream.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, 1u << 30));
    const size_t before = stream.avail_out;
    status = inflate(&stream, Z_NO_FLUSH);
    produced += before - stream.avail_out;
    if (status == Z_STREAM_END) {
      if (stream.avail_in == 0) break;
      inflateReset(&stream);  // another gzip member follows
      continue;
    }
    if (status == Z_BUF_ERROR && stream.avail_in == 0) break;  // input ended before the stream did
    if (status != Z_OK && status != Z_BUF_ERROR) break;
  }
  const std::string message = stream.msg ? stream.msg : "";
  inflateEnd(&stream);
  if (status != Z_STREAM_END) {
    throw Error(file.string() + ": corrupt or truncated gzip data" + (message.empty() ? "" : " (" + message + ")"));
  }
  out.resize(produced);
  return out;
}

std::string read_maybe_gzipped(const fs::path& file) {
  if (!fs::exists(file)) throw Error(file.string() + ": file not found");
  std::string bytes = read_file(file);
  return is_gzip(bytes) ? gunzip(bytes, file) : bytes;
}

uint32_t read_big_endian(const std::string& bytes, size_t offset) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data()) + offset;
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// A decoded IDX file: its dimensions and where the uint8 data starts.
struct IdxContent {
  std::string bytes;
  std::vector<int64_t> dims;
  size_t data_offset = 0;
};

// Parses the header of an unsigned-byte IDX file with `expected_dims`
// dimensions and checks that the data size matches it exactly.
IdxContent parse_idx(const fs::path& file, size_t expected_dims) {
  IdxContent idx{read_maybe_gzipped(file), {}, 0};
  const std::string& bytes = idx.bytes;
  const std::string what = expected_dims == 3 ? "an IDX images file" : "an IDX labels file";
  if (bytes.size() < 4) throw Error(file.string() + ": truncated (" + std::to_string(bytes.size()) + " bytes); not " + what);
  const auto* magic = reinterpret_cast<const unsigned char*>(bytes.data());
  if (magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08 || magic[3] != expected_dims) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", magic[0], magic[1], magic[2], magic[3]);
    throw Error(file.string() + ": bad magic number 0x" + hex + "; not " + what + " (expected 0x0000080" +
                std::to_string(expected_dims) + ")");
  }
  idx.data_offset = 4 + 4 * expected_dims;
  if (bytes.size() < idx.data_offset) throw Error(file.string() + ": truncated header");
  uint64_t expected_size = 1;
  for (size_t d = 0; d < expected_dims; ++d) {
    const uint32_t dim = read_big_endian(bytes, 4 + 4 * d);
    if (dim == 0 && d > 0) throw Error(file.string() + ": dimension " + std::to_string(d) + " is 0");
    if (dim > (1u << 30)) throw Error(file.string() + ": implausible dimension " + std::to_string(dim));
    idx.dims.push_back(dim);
    if (__builtin_mul_overflow(expected_size, uint64_t{dim}, &expected_size))
      throw Error(file.string() + ": implausible dimensions (their product overflows 64 bits)");
  }
  const uint64_t actual_size = bytes.size() - idx.data_offset;
  if (actual_size < expected_size) {
    throw Error(file.string() + ": truncated: header promises " + std::to_string(expected_size) +
                " bytes of data, file holds " + std::to_string(actual_size));
  }
  if (actual_size > expected_size) {
    throw Error(file.string() + ": " + std::to_string(actual_size - expected_size) +
                " unexpected bytes after the data; corrupt file?");
  }
  return idx;
}

at::Tensor to_uint8_tensor(const IdxContent& idx) {
  auto tensor = torch::empty(idx.dims, torch::kUInt8);
  const size_t size = idx.bytes.size() - idx.data_offset;
  if (size > 0) std::memcpy(tensor.data_ptr<uint8_t>(), idx.bytes.data() + idx.data_offset, size);  // no data: null pointer
  return tensor;
}

class IdxDataset : public Dataset {
 public:
  IdxDataset(fs::path images_file, at::Tensor images, std::vector<int64_t> labels, std::vector<std::string> classes)
      : images_file_(std::move(images_file)),
        images_(std::move(images)),
        labels_(std::move(labels)),
        classes_(std::move(classes)) {}

  int64_t size() const override { return images_.size(0); }
  int64_t label(int64_t i) const override { return labels_.at(static_cast<size_t>(checked(i))); }
  const std::vector<std::string>& classes() const override { return classes_; }
  std::string source(int64_t i) const override { return images_file_.string() + "#" + std::to_string(i); }
  int64_t channels() const override { return 1; }
  bool in_memory() const override { return true; }

  at::Tensor load(int64_t i) const override {
    return images_[checked(i)].unsqueeze(0).to(torch::kFloat32).div_(255.0f);
  }
  at::Tensor load_many(const std::vector<int64_t>& indices) const override {
    for (int64_t i : indices) checked(i);
    auto index = torch::from_blob(const_cast<int64_t*>(indices.data()), {static_cast<int64_t>(indices.size())},
                                  torch::kInt64);
    return images_.index_select(0, index).unsqueeze(1).to(torch::kFloat32).div_(255.0f);
  }

 private:
  int64_t checked(int64_t i) const {
    if (i < 0 || i >= size()) {
      throw Error(images_file_.string() + ": item " + std::to_string(i) + " out of range 0.." +
                  std::to_string(size() - 1));
    }
    return i;
  }

  fs::path images_file_;
  at::Tensor images_;  // N x H x W uint8
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
};

std::vector<std::string> numbered_classes(int64_t count) {
  std::vector<std::string> names;
  for (int64_t c = 0; c < count; ++c) names.push_back(std::to_string(c));
  return names;
}

// The file `stem` or `stem.gz` in `folder`.
fs::path find_idx_file(const fs::path& folder, const std::string& stem) {
  for (const auto& name : {stem, stem + ".gz"}) {
    if (fs::is_regular_file(folder / name)) return folder / name;
  }
  throw Error((folder / stem).string() + "[.gz]: file not found (an MNIST folder holds train-images-idx3-ubyte, "
              "train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each optionally .gz)");
}

std::string folder_name(const fs::path& folder) {
  auto normal = folder.lexically_normal();
  if (normal.filename().empty()) normal = normal.parent_path();  // trailing slash
  if (normal.filename() == "." || normal.filename().empty()) normal = fs::absolute(folder).lexically_normal();
  if (normal.filename().empty()) normal = normal.parent_path();
  return normal.filename().string();
}

bool contains_fashion(std::string name) {
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  return name.find("fashion") != std::string::npos;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

IdxImages load_idx_images(const fs::path& images_file) {
  IdxContent idx = parse_idx(images_file, 3);
  IdxImages images;
  images.count = idx.dims[0];
  images.height = idx.dims[1];
  images.width = idx.dims[2];
  images.pixels = std::move(idx.bytes);
  images.offset = idx.data_offset;
  return images;
}

const uint8_t* IdxImages::image(int64_t i) const {
  if (i < 0 || i >= count) throw Error("IDX image " + std::to_string(i) + " out of range 0.." + std::to_string(count - 1));
  return reinterpret_cast<const uint8_t*>(pixels.data()) + offset + static_cast<size_t>(i * height * width);
}

std::shared_ptr<Dataset> load_idx_dataset(const fs::path& images_file, const fs::path& labels_file,
                                          std::vector<std::string> class_names) {
  const IdxContent images = parse_idx(images_file, 3);
  const IdxContent labels = parse_idx(labels_file, 1);
  if (images.dims[0] != labels.dims[0]) {
    throw Error(labels_file.string() + ": holds " + std::to_string(labels.dims[0]) + " labels but " +
                images_file.string() + " holds " + std::to_string(images.dims[0]) + " images");
  }
  std::vector<int64_t> label_values;
  label_values.reserve(static_cast<size_t>(labels.dims[0]));
  for (size_t k = labels.data_offset; k < labels.bytes.size(); ++k) {
    label_values.push_back(static_cast<unsigned char>(labels.bytes[k]));
  }
  const int64_t max_label = label_values.empty() ? -1 : *std::max_element(label_values.begin(), label_values.end());
  if (class_names.empty()) class_names = numbered_classes(max_label + 1);
  if (max_label >= static_cast<int64_t>(class_names.size())) {
    throw Error(labels_file.string() + ": label " + std::to_string(max_label) + " out of range for " +
                std::to_string(class_names.size()) + " classes");
  }
  return std::make_shared<IdxDataset>(images_file, to_uint8_tensor(images), std::move(label_values),
                                      std::move(class_names));
}

std::shared_ptr<Dataset> load_mnist_folder(const fs::path& folder, const std::string& split) {
  std::string prefix;
  if (split == "train") {
    prefix = "train";
  } else if (split == "test" || split == "t10k") {
    prefix = "t10k";
  } else {
    throw Error(folder.string() + ": unknown split '" + split + "' for an MNIST folder (use train or test)");
  }
  if (!fs::is_directory(folder)) throw Error(folder.string() + ": not a folder");
  const auto images = find_idx_file(folder, prefix + "-images-idx3-ubyte");
  const auto labels = find_idx_file(folder, prefix + "-labels-idx1-ubyte");
  auto classes = contains_fashion(folder_name(folder)) ? fashion_mnist_classes() : numbered_classes(10);
  return load_idx_dataset(images, labels, std::move(classes));
}

bool is_mnist_folder(const fs::path& folder) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    const auto name = entry.path().filename().string();
    if (ends_with(name, "-idx3-ubyte") || ends_with(name, "-idx3-ubyte.gz")) return true;
  }
  return false;
}

}  // namespace imret::data
