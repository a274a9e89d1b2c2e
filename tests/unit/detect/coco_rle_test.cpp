#include "imret/detect/coco_rle.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "detect_test_tensors.hpp"
#include "imret/core/error.hpp"
#include "support/errors.hpp"
#include "support/reference_files.hpp"

using namespace imret::detect;
using imret::testing::error_of;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using imret::testing::bits_of;

// A height x width uint8 mask whose column-major runs are `runs` (0s first),
// the rest 0s.
torch::Tensor mask_from_runs(int64_t height, int64_t width, const std::vector<int64_t>& runs) {
  std::vector<uint8_t> columns(static_cast<size_t>(height * width), 0);
  int64_t position = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    for (int64_t j = 0; j < runs[i]; ++j) columns.at(static_cast<size_t>(position + j)) = i % 2;
    position += runs[i];
  }
  // Column-major (W x H) to row-major H x W.
  return torch::from_blob(columns.data(), {width, height}, torch::kUInt8).t().contiguous();
}

// Random rectangles and discs: long runs, as object masks have.
torch::Tensor blob_mask(int64_t height, int64_t width, std::mt19937& rng, int blobs) {
  torch::Tensor mask = torch::zeros({height, width}, torch::kUInt8);
  auto* m = mask.data_ptr<uint8_t>();
  std::uniform_real_distribution<double> u(0, 1);
  for (int b = 0; b < blobs; ++b) {
    const double cx = u(rng) * width, cy = u(rng) * height;
    const double r = (0.05 + 0.3 * u(rng)) * std::min(height, width);
    const bool disc = u(rng) < 0.5;
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
        const bool inside = disc ? dx * dx + dy * dy < r * r : std::abs(dx) < r && std::abs(dy) < 0.6 * r;
        if (inside) m[y * width + x] = b % 3 == 2 ? 0 : 1;  // some blobs cut holes
      }
    }
  }
  return mask;
}

torch::Tensor noise_mask(int64_t height, int64_t width, double density, std::mt19937& rng) {
  torch::Tensor mask = torch::zeros({height, width}, torch::kUInt8);
  std::bernoulli_distribution bit(density);
  auto* m = mask.data_ptr<uint8_t>();
  for (int64_t i = 0; i < height * width; ++i) m[i] = bit(rng);
  return mask;
}

std::vector<uint32_t> as_counts(const json& list) {
  std::vector<uint32_t> counts;
  for (const auto& c : list) counts.push_back(c.get<uint32_t>());
  return counts;
}

struct Case {
  std::string name;
  torch::Tensor mask;
};

std::vector<Case> mask_cases() {
  std::mt19937 rng(8);
  std::vector<Case> cases;
  cases.push_back({"1x1 empty", torch::zeros({1, 1}, torch::kUInt8)});
  cases.push_back({"1x1 set", torch::ones({1, 1}, torch::kUInt8)});
  cases.push_back({"0x5", torch::zeros({0, 5}, torch::kUInt8)});
  cases.push_back({"4x0", torch::zeros({4, 0}, torch::kUInt8)});
  cases.push_back({"empty 7x5", torch::zeros({7, 5}, torch::kUInt8)});
  cases.push_back({"full 7x5", torch::ones({7, 5}, torch::kUInt8)});
  cases.push_back({"one column", noise_mask(37, 1, 0.5, rng)});
  cases.push_back({"one row", noise_mask(1, 53, 0.5, rng)});
  cases.push_back({"first pixel set", mask_from_runs(6, 4, {0, 3, 5, 1})});
  cases.push_back({"last pixel set", mask_from_runs(6, 4, {23, 1})});
  for (const double density : {0.05, 0.5, 0.95}) {
    cases.push_back({"noise " + std::to_string(density), noise_mask(13, 17, density, rng)});
    cases.push_back({"noise 64x48 " + std::to_string(density), noise_mask(64, 48, density, rng)});
  }
  for (int i = 0; i < 4; ++i) cases.push_back({"blobs 120x90 #" + std::to_string(i), blob_mask(120, 90, rng, 3 + i)});
  cases.push_back({"blobs 480x640", blob_mask(480, 640, rng, 5)});
  // Runs at the edges of the 5-bit groups (15/16, 31/32/33, 511/512/513,
  // 16383/16384, 2^20), and differences to the count two before that are
  // large and negative as well as positive.
  cases.push_back({"group edges", mask_from_runs(1100, 1000,
                                                 {15, 16, 31, 32, 33, 511, 512, 513, 1, 16383, 16384, 2, 1048576, 3, 17,
                                                  1023, 1024, 1025, 0})});
  std::vector<int64_t> runs;
  std::uniform_real_distribution<double> log_length(0, 17);
  int64_t total = 0;
  while (true) {
    const auto length = static_cast<int64_t>(std::pow(2.0, log_length(rng)));
    if (total + length > 900 * 1000) break;
    runs.push_back(length);
    total += length;
  }
  cases.push_back({"log-uniform runs", mask_from_runs(900, 1000, runs)});
  return cases;
}

}  // namespace

TEST(CocoRle, MatchesPythonReferenceOnMasks) {
  const std::vector<Case> cases = mask_cases();
  // Count lists straight to strings: counts up to 2^32 - 1 and differences
  // of both signs beyond 2^31.
  const std::vector<std::vector<uint32_t>> count_lists = {{0},
                                                          {0, 4294967295u},
                                                          {1, 2147483648u, 5, 2147483600u, 1},
                                                          {3000000000u, 7, 1, 1000000000u, 0, 5},
                                                          {0, 1, 0, 1, 0, 1, 0},
                                                          {44, 44, 44, 12, 76}};

  const fs::path dir = imret::testing::reference_folder("detect", "rle_masks");
  json input = {{"masks", json::array()}, {"counts", count_lists}};
  for (const Case& c : cases) {
    input["masks"].push_back({{"height", c.mask.size(0)}, {"width", c.mask.size(1)}, {"bits", bits_of(c.mask)}});
  }
  std::ofstream(dir / "in.json") << input.dump();
  ASSERT_EQ(imret::testing::run_reference("tests/unit/detect/rle_reference.py",
                                          "encode " + (dir / "in.json").string() + " " + (dir / "out.json").string()),
            0);
  json output;
  std::ifstream(dir / "out.json") >> output;
  ASSERT_EQ(output["masks"].size(), cases.size());

  bool saw_backslash = false;
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].name);
    const json& expected = output["masks"][i];
    const torch::Tensor& mask = cases[i].mask;
    const Rle rle = encode_mask(mask);
    EXPECT_EQ(rle.height, mask.size(0));
    EXPECT_EQ(rle.width, mask.size(1));
    EXPECT_EQ(rle.counts, as_counts(expected["counts"]));
    const std::string text = rle_to_string(rle);
    EXPECT_EQ(text, expected["string"].get<std::string>());
    saw_backslash |= text.find('\\') != std::string::npos;
    EXPECT_EQ(rle_area(rle), expected["area"].get<int64_t>());
    const std::array<int64_t, 4> box = rle_bbox(rle);
    EXPECT_EQ(std::vector<int64_t>(box.begin(), box.end()), expected["bbox"].get<std::vector<int64_t>>());
    // Round trips: the reference's string back to its counts, the counts back to the mask.
    const Rle parsed = rle_from_string(expected["string"].get<std::string>(), mask.size(0), mask.size(1));
    EXPECT_EQ(parsed.counts, as_counts(expected["counts"]));
    const torch::Tensor decoded = decode_mask(parsed);
    EXPECT_EQ(decoded.scalar_type(), torch::kUInt8);
    EXPECT_EQ(decoded.sizes(), mask.sizes());
    EXPECT_TRUE(torch::equal(decoded, mask.to(torch::kUInt8)));
  }
  EXPECT_TRUE(saw_backslash) << "no case covers the '\\' character of the string form";

  ASSERT_EQ(output["counts"].size(), count_lists.size());
  for (size_t i = 0; i < count_lists.size(); ++i) {
    SCOPED_TRACE("count list " + std::to_string(i));
    uint64_t total = 0;
    for (const uint32_t c : count_lists[i]) total += c;
    const Rle rle{1, static_cast<int64_t>(total), count_lists[i]};
    const std::string text = rle_to_string(rle);
    EXPECT_EQ(text, output["counts"][i]["string"].get<std::string>());
    EXPECT_EQ(rle_from_string(text, 1, static_cast<int64_t>(total)).counts, count_lists[i]);
  }
}

// Strings pycocotools printed for a 25 x 25 mask with a 5 x 5 square set at
// rows and columns [0, 5), [5, 10) and [20, 25) (published test cases of
// pytorchcocotools, checked there against pycocotools), and the 4 x 4 example
// of rpycocotools' documentation.
TEST(CocoRle, MatchesPublishedPycocotoolsStrings) {
  const std::vector<std::pair<int64_t, std::string>> squares = {
      {0, "05d00000000d?"}, {5, "R45d00000000b;"}, {20, "X`05d00000000"}};
  for (const auto& [start, expected] : squares) {
    torch::Tensor mask = torch::zeros({25, 25}, torch::kBool);
    mask.slice(0, start, start + 5).slice(1, start, start + 5).fill_(true);
    EXPECT_EQ(rle_to_string(encode_mask(mask)), expected) << start;
    EXPECT_TRUE(torch::equal(decode_mask(rle_from_string(expected, 25, 25)), mask.to(torch::kUInt8))) << start;
    EXPECT_EQ(rle_area(rle_from_string(expected, 25, 25)), 25);
    EXPECT_EQ(rle_bbox(rle_from_string(expected, 25, 25)), (std::array<int64_t, 4>{start, start, 5, 5}));
  }
  EXPECT_EQ(rle_from_string("52203", 4, 4).counts, (std::vector<uint32_t>{5, 2, 2, 2, 5}));
  EXPECT_EQ(rle_to_string(Rle{4, 4, {5, 2, 2, 2, 5}}), "52203");
}

TEST(CocoRle, EncodesMaskTypesAndLayouts) {
  std::mt19937 rng(3);
  const torch::Tensor mask = noise_mask(11, 7, 0.4, rng);
  const std::vector<uint32_t> expected = encode_mask(mask).counts;
  EXPECT_EQ(encode_mask(mask.to(torch::kBool)).counts, expected);
  EXPECT_EQ(encode_mask(mask.to(torch::kLong) * 3).counts, expected);  // any nonzero value is set
  EXPECT_EQ(encode_mask(mask.to(torch::kInt) * -1).counts, expected);
  // A transposed view (not contiguous) is its own mask.
  const torch::Tensor transposed = mask.t();
  EXPECT_EQ(encode_mask(transposed).counts, encode_mask(transposed.contiguous()).counts);
  EXPECT_EQ(encode_mask(transposed).height, 7);
  // The raw-pointer form.
  const torch::Tensor c = mask.contiguous();
  EXPECT_EQ(encode_mask(c.data_ptr<uint8_t>(), 11, 7).counts, expected);

  // Probabilities: set strictly above the threshold.
  const torch::Tensor p = torch::tensor({0.5f, 0.51f, 0.2f, 0.9f}).reshape({2, 2});
  EXPECT_TRUE(
      torch::equal(decode_mask(encode_probabilities(p)), torch::tensor({0, 1, 0, 1}, torch::kUInt8).reshape({2, 2})));
  EXPECT_TRUE(torch::equal(decode_mask(encode_probabilities(p.to(torch::kDouble), 0.1f)),
                           torch::tensor({1, 1, 1, 1}, torch::kUInt8).reshape({2, 2})));
  EXPECT_TRUE(torch::equal(decode_mask(encode_probabilities(p.to(torch::kHalf))),
                           torch::tensor({0, 1, 0, 1}, torch::kUInt8).reshape({2, 2})));

  EXPECT_NE(error_of([&] { encode_mask(p); }).find("encode_probabilities"), std::string::npos);
  EXPECT_NE(error_of([&] { encode_probabilities(mask); }).find("floating-point"), std::string::npos);
  EXPECT_NE(error_of([&] { encode_mask(torch::zeros({1, 3, 3}, torch::kUInt8)); }).find("H x W"), std::string::npos);
  EXPECT_NE(error_of([&] { encode_mask(torch::Tensor()); }).find("undefined"), std::string::npos);
}

TEST(CocoRle, StringErrorsSayWhatIsWrong) {
  const auto error = [](const std::string& text, int64_t h, int64_t w) {
    return error_of([&] { rle_from_string(text, h, w); });
  };
  // Characters outside '0'..'o'.
  EXPECT_NE(error("3/1", 2, 2).find("'/' at character 2"), std::string::npos) << error("3/1", 2, 2);
  EXPECT_NE(error("1p", 2, 2).find("'p' at character 2"), std::string::npos);
  EXPECT_NE(error(std::string("1\0", 2), 2, 2).find("byte 0 at character 2"), std::string::npos);
  EXPECT_NE(error("1\xc3\xa9", 2, 2).find("byte 195"), std::string::npos);
  // 'P' (32): a group with "more to come", then the end.
  EXPECT_NE(error("1P", 2, 2).find("ends inside a number"), std::string::npos);
  // Eight groups: more than 32-bit counts (or their differences) need.
  EXPECT_NE(error("ooooooo1", 2, 2).find("too long"), std::string::npos);
  // 'O' (31): -1 as the first count.
  EXPECT_NE(error("O", 2, 2).find("out of range"), std::string::npos);
  // A difference that makes a count negative: 5, 1, 1, then 1 + (-2).
  EXPECT_NE(error("511N", 2, 2).find("out of range"), std::string::npos) << error("511N", 2, 2);
  // 2^32 as a first count: groups 0,0,0,0,0,0 and 4 (more bits than 32).
  EXPECT_NE(error("PPPPPP4", 1, 1).find("out of range"), std::string::npos) << error("PPPPPP4", 1, 1);
  // Counts that do not cover the mask.
  EXPECT_NE(error("5", 2, 2).find("add up to 5"), std::string::npos) << error("5", 2, 2);
  EXPECT_NE(error("13", 2, 3).find("add up to 4 pixels, but a 2 x 3"), std::string::npos) << error("13", 2, 3);
  EXPECT_NE(error("4", -1, 2).find("negative"), std::string::npos);
  // Every message is one line.
  for (const char* text : {"3/1", "1P", "ooooooo1", "O", "5"}) {
    EXPECT_EQ(error(text, 2, 2).find('\n'), std::string::npos);
  }
  // Good ones: an empty mask has no counts or a single 0.
  EXPECT_TRUE(rle_from_string("", 0, 3).counts.empty());
  EXPECT_EQ(rle_from_string("0", 0, 3).counts, std::vector<uint32_t>{0});
  EXPECT_EQ(decode_mask(rle_from_string("", 0, 3)).sizes(), (std::vector<int64_t>{0, 3}));

  // decode_mask checks what it is given.
  EXPECT_NE(error_of([] { decode_mask(Rle{2, 2, {1, 2}}); }).find("add up to 3"), std::string::npos);
  EXPECT_NE(error_of([] {
              encode_mask(torch::zeros({1, 1}, torch::kUInt8).expand({70000, 70000}));
            }).find("32-bit"),
            std::string::npos);
}

TEST(CocoRle, RoundTripsRandomCountLists) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> log_length(0, 28);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<uint32_t> counts;
    uint64_t total = 0;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      // Zero-length runs too (only the first may be 0 in an encoded mask, but
      // strings may hold them).
      const auto c = rng() % 7 == 0 ? 0u : static_cast<uint32_t>(std::pow(2.0, log_length(rng)));
      counts.push_back(c);
      total += c;
    }
    const int64_t width = static_cast<int64_t>(total);
    const Rle rle{1, width, counts};
    const std::string text = rle_to_string(rle);
    ASSERT_TRUE(std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= 'o'; })) << text;
    ASSERT_EQ(rle_from_string(text, 1, width).counts, counts) << text;
  }
}

TEST(CocoRle, AreaAndBboxOfRunsAcrossColumns) {
  // 4 x 3: a run from the bottom of column 0 into the top of column 1 spans
  // every row, though it covers only rows 3 and 0.
  const Rle across{4, 3, {3, 2, 7}};
  EXPECT_EQ(rle_area(across), 2);
  EXPECT_EQ(rle_bbox(across), (std::array<int64_t, 4>{0, 0, 2, 4}));
  const Rle within{4, 3, {5, 2, 5}};  // column 1, rows 1 and 2
  EXPECT_EQ(rle_bbox(within), (std::array<int64_t, 4>{1, 1, 1, 2}));
  EXPECT_EQ(rle_bbox(Rle{4, 3, {12}}), (std::array<int64_t, 4>{0, 0, 0, 0}));
  EXPECT_EQ(rle_bbox(Rle{4, 3, {0, 12}}), (std::array<int64_t, 4>{0, 0, 3, 4}));
}

// A 640 x 480 object mask encodes in well under a millisecond (a guard
// against per-pixel tensor operations, which take seconds). The bound is
// loose for a busy machine; the median is printed.
TEST(CocoRle, EncodesA640x480MaskQuickly) {
  std::mt19937 rng(5);
  const torch::Tensor mask = blob_mask(480, 640, rng, 4).to(torch::kBool);
  const torch::Tensor probabilities = mask.to(torch::kFloat) * 0.8f + 0.1f;
  std::vector<double> mask_ms, probability_ms, string_ms;
  for (int i = 0; i < 31; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    const Rle rle = encode_mask(mask);
    auto t1 = std::chrono::steady_clock::now();
    const Rle from_p = encode_probabilities(probabilities);
    auto t2 = std::chrono::steady_clock::now();
    const std::string text = rle_to_string(rle);
    auto t3 = std::chrono::steady_clock::now();
    ASSERT_EQ(rle.counts, from_p.counts);
    ASSERT_FALSE(text.empty());
    mask_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    probability_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    string_ms.push_back(std::chrono::duration<double, std::milli>(t3 - t2).count());
  }
  const auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  std::printf("640x480 encode: mask %.3f ms, probabilities %.3f ms, string %.3f ms (medians)\n", median(mask_ms),
              median(probability_ms), median(string_ms));
  EXPECT_LT(median(mask_ms), 10.0);
  EXPECT_LT(median(probability_ms), 10.0);
}
