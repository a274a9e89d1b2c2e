#include "imret/core/safetensors.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

#include "support/scratch.hpp"

namespace fs = std::filesystem;

namespace {
fs::path temp_path(const std::string& name) { return imret::testing::scratch_path("safetensors_test", name); }

std::string error_of(const fs::path& path) {
  try {
    imret::load_safetensors(path);
  } catch (const imret::Error& e) {
    return e.what();
  }
  return "";
}

// Writes a file with a hand-made header and `data_bytes` zero bytes of data.
void write_raw(const fs::path& path, const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  bytes += header;
  bytes.append(data_bytes, '\0');
  imret::write_file_atomic(path, bytes);
}
}  // namespace

TEST(Safetensors, RoundTripOfEveryDtypeWithMetadata) {
  torch::manual_seed(0);
  std::vector<std::pair<std::string, at::Tensor>> tensors = {
      {"f32", torch::randn({3, 4})},
      {"f64", torch::randn({2}, torch::kDouble)},
      {"f16", torch::randn({5}).to(torch::kHalf)},
      {"bf16", torch::randn({2, 2}).to(torch::kBFloat16)},
      {"i64", torch::arange(7)},
      {"u8", torch::arange(3).to(torch::kByte)},
      {"bool", torch::tensor({true, false})},
      {"scalar", torch::tensor(3.5f)},
      {"non_contiguous", torch::randn({4, 3}).t()},
  };
  const fs::path path = temp_path("all.safetensors");
  imret::save_safetensors(path, tensors, {{"format", "pt"}});
  const imret::TensorFile file = imret::load_safetensors(path);
  EXPECT_EQ(file.metadata.at("format"), "pt");
  ASSERT_EQ(file.tensors.size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    EXPECT_EQ(file.tensors[i].first, tensors[i].first);
    EXPECT_EQ(file.tensors[i].second.scalar_type(), tensors[i].second.scalar_type());
    EXPECT_TRUE(torch::equal(file.tensors[i].second, tensors[i].second)) << tensors[i].first;
  }
}

TEST(Safetensors, PythonReadsOurFile) {
  // The layout by the specification, read with plain Python + numpy.
  const fs::path path = temp_path("py.safetensors");
  imret::save_safetensors(path, {{"w", torch::arange(6, torch::kFloat).reshape({2, 3})}});
  const std::string script =
      "import json, struct, numpy as np; b = open('" + path.string() +
      "', 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n]); e = h['w']; "
      "a = np.frombuffer(b[8+n+e['data_offsets'][0]:8+n+e['data_offsets'][1]], dtype='<f4').reshape(e['shape']); "
      "assert e['dtype'] == 'F32' and a.tolist() == [[0,1,2],[3,4,5]] and (8 + n) % 8 == 0";
  EXPECT_EQ(std::system(("/usr/bin/python3 -c \"" + script + "\"").c_str()), 0);
}

TEST(Safetensors, TruncatedFileNamesFileAndTensor) {
  const fs::path path = temp_path("trunc.safetensors");
  imret::save_safetensors(path, {{"layer.weight", torch::ones({16, 16})}});
  fs::resize_file(path, fs::file_size(path) - 10);
  const std::string error = error_of(path);
  EXPECT_NE(error.find(path.string()), std::string::npos) << error;
  EXPECT_NE(error.find("layer.weight"), std::string::npos) << error;
}

TEST(Safetensors, MalformedHeadersAreErrorsNotCrashes) {
  const fs::path path = temp_path("bad.safetensors");
  write_raw(path, "{not json", 0);
  EXPECT_NE(error_of(path).find("malformed safetensors header"), std::string::npos);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 8);
  EXPECT_NE(error_of(path).find("shape and dtype need 8"), std::string::npos) << error_of(path);
  write_raw(path, R"({"a":{"dtype":"Q7","shape":[1],"data_offsets":[0,4]}})", 4);
  EXPECT_NE(error_of(path).find("unsupported dtype Q7"), std::string::npos);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}})", 8);
  EXPECT_NE(error_of(path).find("overlap"), std::string::npos);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[1]}})", 4);
  EXPECT_NE(error_of(path).find("'a': malformed entry"), std::string::npos);
  // Numbers beyond 64 bits (read as floats), fractions and negatives (found by the fuzzer: a float
  // converted to int64 out of range).
  write_raw(path, R"({"a":{"dtype":"F32","shape":[39223372036854775807],"data_offsets":[0,4]}})", 4);
  EXPECT_NE(error_of(path).find("'a': shape holds 3.9223372036854776e+19, not a whole number"), std::string::npos)
      << error_of(path);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.5]}})", 4);
  EXPECT_NE(error_of(path).find("'a': data_offsets holds 4.5"), std::string::npos) << error_of(path);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4);
  EXPECT_NE(error_of(path).find("'a' has a negative dimension"), std::string::npos) << error_of(path);
  write_raw(path, R"({"a":{"dtype":"F32","shape":[9223372036854775808],"data_offsets":[0,4]}})", 4);
  EXPECT_NE(error_of(path).find("'a' has a shape too large for any file"), std::string::npos) << error_of(path);
  imret::write_file_atomic(path, std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8));
  EXPECT_NE(error_of(path).find("truncated or not a safetensors file"), std::string::npos);
}
