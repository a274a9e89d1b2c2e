// Image headers, limits and the JPEG/PNG decoders, on files written by PIL
// (make_test_images.py): pixels compared with OpenCV's imdecode, sizes with
// PIL's Image.open(...).size, damaged files rejected silently.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <iterator>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "imret/data/image_folder.hpp"
#include "imret/data/image_header.hpp"
#include "imret/data/loader.hpp"
#include "test_util.hpp"

using namespace imret::data;
using imret::data::testing::TempDir;
using imret::data::testing::throws_with;
namespace fs = std::filesystem;

namespace {

std::vector<uint8_t> read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& file, const std::vector<uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// The images of make_test_images.py, written once for all tests.
class Images : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("decode");
    const std::string command = "/usr/bin/python3 " + std::string(IMRET_SOURCE_DIR) +
                                "/tests/unit/data/make_test_images.py " + dir_->path().string() + " --bomb";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    std::ifstream in(dir_->path() / "pil.json");
    pil_ = new nlohmann::json(nlohmann::json::parse(in));
  }
  static void TearDownTestSuite() {
    delete pil_;
    delete dir_;
  }
  static fs::path file(const std::string& name) { return dir_->path() / name; }
  static const nlohmann::json& pil() { return *pil_; }

  // What the code before these decoders gave: imdecode(IMREAD_COLOR), BGR -> RGB, as 3 x H x W float.
  static at::Tensor opencv_reference(const fs::path& path) {
    const std::vector<uint8_t> bytes = read_file(path);
    cv::Mat bgr = cv::imdecode(bytes, cv::IMREAD_COLOR);
    EXPECT_FALSE(bgr.empty()) << path;
    cv::Mat rgb;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    auto hwc = torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8);
    return hwc.permute({2, 0, 1}).contiguous().to(torch::kFloat32).div_(255.0f);
  }

 private:
  static TempDir* dir_;
  static nlohmann::json* pil_;
};

TempDir* Images::dir_ = nullptr;
nlohmann::json* Images::pil_ = nullptr;

// Runs f with the process's stderr (fd 2) captured; returns what was written.
template <typename F>
std::string captured_stderr(F&& f) {
  std::fflush(stderr);
  FILE* sink = std::tmpfile();
  const int saved = ::dup(2);
  ::dup2(::fileno(sink), 2);
  f();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::string text;
  std::rewind(sink);
  for (int c; (c = std::fgetc(sink)) != EOF;) text += static_cast<char>(c);
  std::fclose(sink);
  return text;
}

// The reason decode_image_rgb gives for `path`; "" when it decodes.
std::string bad_image_reason(const fs::path& path, const ImageLimits& limits = {}) {
  try {
    decode_image_rgb(path, limits);
  } catch (const BadImageError& e) {
    EXPECT_EQ(e.path(), path.string());
    return e.reason();
  }
  return "";
}

}  // namespace

TEST_F(Images, DecodedPixelsEqualOpenCvs) {
  const std::vector<std::string> names = {
      // JPEG: 4:2:0, 4:4:4, progressive, grey, Adobe CMYK, every EXIF orientation
      "rgb.jpg", "rgb444.jpg", "progressive.jpg", "grey.jpg", "cmyk.jpg", "orientation1.jpg", "orientation2.jpg",
      "orientation3.jpg", "orientation4.jpg", "orientation5.jpg", "orientation6.jpg", "orientation7.jpg",
      "orientation8.jpg",
      // PNG: every colour type, 1/2/4/8/16 bits, palettes with and without tRNS, Adam7 interlacing, eXIf
      "rgb.png", "rgba.png", "grey.png", "grey_alpha.png", "palette.png", "palette4.png", "palette_trns.png",
      "bitmap.png", "grey16.png", "rgb16.png", "rgba16.png", "grey2.png", "grey4.png", "interlaced_rgb.png",
      "interlaced_grey1.png", "interlaced_rgba16.png", "grey_trns.png", "rgb_trns.png", "bad_text_chunk.png",
      "orientation6.png",
      // through OpenCV
      "rgb.bmp", "top_down.bmp", "lossy.webp", "lossless.webp", "rgb.tif", "rgb.ppm", "grey.pgm"};
  for (const auto& name : names) {
    const at::Tensor ours = decode_image_rgb(file(name));
    const at::Tensor reference = opencv_reference(file(name));
    ASSERT_EQ(ours.sizes(), reference.sizes()) << name;
    EXPECT_TRUE(ours.equal(reference)) << name << ": max difference "
                                       << (ours - reference).abs().max().item<float>() * 255;
  }
}

TEST_F(Images, ExifOrientationTurnsTheImageUpright) {
  const at::Tensor stored = decode_image_rgb(file("orientation1.jpg"));
  EXPECT_EQ(stored.sizes(), (std::vector<int64_t>{3, 23, 37}));
  const at::Tensor rotated = decode_image_rgb(file("orientation6.jpg"));  // stored turned 90 degrees clockwise
  ASSERT_EQ(rotated.sizes(), (std::vector<int64_t>{3, 37, 23}));
  EXPECT_TRUE(rotated.equal(stored.transpose(1, 2).flip({2})));
}

TEST_F(Images, HeaderSizesEqualPils) {
  const std::map<std::string, ImageFormat> formats = {
      {"JPEG", ImageFormat::Jpeg}, {"PNG", ImageFormat::Png},   {"BMP", ImageFormat::Bmp}, {"GIF", ImageFormat::Gif},
      {"WEBP", ImageFormat::WebP}, {"TIFF", ImageFormat::Tiff}, {"PPM", ImageFormat::Pnm}};
  std::set<ImageFormat> seen;
  for (const auto& [name, reference] : pil().items()) {
    const std::vector<uint8_t> bytes = read_file(file(name));
    const ImageHeader header = read_image_header(bytes.data(), bytes.size());
    ASSERT_TRUE(formats.count(reference["format"])) << name << " " << reference["format"];
    EXPECT_EQ(header.format, formats.at(reference["format"])) << name;
    EXPECT_EQ(header.width, reference["size"][0].get<uint32_t>()) << name;
    EXPECT_EQ(header.height, reference["size"][1].get<uint32_t>()) << name;
    seen.insert(header.format);
  }
  EXPECT_EQ(seen.size(), formats.size());  // every format was compared
}

TEST_F(Images, HeaderChannelsAndBitDepth) {
  auto header_of = [](const std::string& name) {
    const std::vector<uint8_t> bytes = read_file(file(name));
    return read_image_header(bytes.data(), bytes.size());
  };
  EXPECT_EQ(header_of("grey.jpg").channels, 1);
  EXPECT_EQ(header_of("cmyk.jpg").channels, 4);
  EXPECT_EQ(header_of("rgb.jpg").bit_depth, 8);
  EXPECT_EQ(header_of("rgba16.png").channels, 4);
  EXPECT_EQ(header_of("rgba16.png").bit_depth, 16);
  EXPECT_EQ(header_of("grey2.png").bit_depth, 2);
  EXPECT_EQ(header_of("plain.pgm").bit_depth, 16);
  EXPECT_EQ(header_of("bitmap.pbm").bit_depth, 1);
  EXPECT_EQ(header_of("big_endian.tif").channels, 3);
}

TEST_F(Images, HeaderOfAnyPrefixIsUnsizedOrRight) {
  for (const auto& [name, reference] : pil().items()) {
    if (name == "bomb.png") continue;  // large; its header is a PNG's like the others
    const std::vector<uint8_t> bytes = read_file(file(name));
    for (size_t n = 0; n < bytes.size() && n < 600; ++n) {
      // A copy of exactly n bytes, so that AddressSanitizer would see any read past them.
      const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      const ImageHeader header = read_image_header(prefix.data(), prefix.size());
      if (header.has_size()) {
        EXPECT_EQ(header.width, reference["size"][0].get<uint32_t>()) << name << " cut at " << n;
        EXPECT_EQ(header.height, reference["size"][1].get<uint32_t>()) << name << " cut at " << n;
      }
    }
  }
}

TEST(ImageHeader, UnrecognisedBytesAreAnUnknownFormat) {
  const std::vector<std::string> inputs = {"", "x", "not an image at all", "GIF8", "RIFF\0\0\0\0WAVE", "P7 1 1",
                                           std::string("\xFF\xD8", 2), "\x89PNG"};
  for (const auto& text : inputs) {
    const ImageHeader header = read_image_header(reinterpret_cast<const uint8_t*>(text.data()), text.size());
    EXPECT_FALSE(header.has_size()) << text;
  }
  EXPECT_EQ(read_image_header(reinterpret_cast<const uint8_t*>("hello"), 5).format, ImageFormat::Unknown);
  EXPECT_EQ(read_image_header(nullptr, 0).format, ImageFormat::Unknown);
  EXPECT_STREQ(image_format_name(ImageFormat::Unknown), "unknown format");
  // A JPEG signature with no frame header: the format, no size.
  const uint8_t soi_eoi[] = {0xFF, 0xD8, 0xFF, 0xD9};
  const ImageHeader jpeg = read_image_header(soi_eoi, sizeof soi_eoi);
  EXPECT_EQ(jpeg.format, ImageFormat::Jpeg);
  EXPECT_FALSE(jpeg.has_size());
}

TEST(ImageLimits, ReasonsAreClear) {
  const ImageLimits defaults;
  EXPECT_EQ(defaults.max_pixels, 178956970u);  // PIL's DecompressionBombError threshold
  EXPECT_EQ(image_limit_violation(30000, 30000, defaults),
            "30000 x 30000 pixels, more than the limit of 178956970 (a decompression bomb?)");
  EXPECT_EQ(image_limit_violation(1, 50000, defaults), "1 x 50000: aspect ratio 50000 above the limit of 100");
  EXPECT_EQ(image_limit_violation(300, 4, defaults), "");  // 75:1 is allowed
  EXPECT_EQ(image_limit_violation(401, 4, defaults), "401 x 4: aspect ratio 100.3 above the limit of 100");
  EXPECT_EQ(image_limit_violation(13377, 13377, defaults), "");  // 178944129 pixels
  EXPECT_NE(image_limit_violation(13377, 13378, defaults), "");  // 178957506 pixels
  EXPECT_NE(image_limit_violation(UINT64_MAX, UINT64_MAX, defaults), "");  // no overflow
  EXPECT_EQ(image_limit_violation(0, 10, defaults), "0 x 10: the image has no pixels");
  const ImageLimits strict{100, 2.0};
  EXPECT_EQ(image_limit_violation(11, 10, strict), "11 x 10 pixels, more than the limit of 100 (a decompression bomb?)");
  EXPECT_EQ(image_limit_violation(3, 1, strict), "3 x 1: aspect ratio 3 above the limit of 2");
}

TEST_F(Images, TruncatedFilesAreBadImagesAtEveryCut) {
  TempDir cuts("cuts");
  for (const std::string name : {"rgb.jpg", "progressive.jpg", "cmyk.jpg", "rgb.png", "interlaced_rgb.png"}) {
    const std::vector<uint8_t> bytes = read_file(file(name));
    const bool jpeg = name.find(".jpg") != std::string::npos;
    // From inside the headers to the last byte (a JPEG without its end marker, a PNG without IEND's CRC).
    for (const size_t cut : {size_t{40}, bytes.size() / 4, bytes.size() / 2, bytes.size() * 3 / 4, bytes.size() - 1}) {
      const fs::path path = cuts.path() / ("cut" + std::to_string(cut) + "_" + name);
      write_file(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut)));
      std::string reason;
      const std::string printed = captured_stderr([&] { reason = bad_image_reason(path); });
      EXPECT_NE(reason.find(jpeg ? "corrupt JPEG" : "corrupt PNG"), std::string::npos) << path << ": '" << reason << "'";
      EXPECT_EQ(printed, "") << path;  // libjpeg's "Premature end of JPEG file" and libpng's warnings stay quiet
    }
  }
}

TEST_F(Images, CorruptDataInTheMiddleIsABadImage) {
  TempDir corrupt("corrupt");
  // A JPEG with a marker in the middle of its entropy-coded data.
  std::vector<uint8_t> jpeg = read_file(file("rgb.jpg"));
  jpeg[jpeg.size() / 2 + 100] = 0xFF;
  jpeg[jpeg.size() / 2 + 101] = 0xD3;
  write_file(corrupt.path() / "marker.jpg", jpeg);
  // A PNG with a flipped byte in its image data.
  std::vector<uint8_t> png = read_file(file("rgb.png"));
  png[png.size() / 2] ^= 0x55;
  write_file(corrupt.path() / "flipped.png", png);
  std::string jpeg_reason, png_reason, crc_reason;
  const std::string printed = captured_stderr([&] {
    jpeg_reason = bad_image_reason(corrupt.path() / "marker.jpg");
    png_reason = bad_image_reason(corrupt.path() / "flipped.png");
    crc_reason = bad_image_reason(file("text_crc_error.png"));  // in an ancillary chunk: still damage
  });
  EXPECT_NE(jpeg_reason.find("corrupt JPEG: Corrupt JPEG data"), std::string::npos) << jpeg_reason;
  EXPECT_NE(png_reason.find("corrupt PNG: IDAT: "), std::string::npos) << png_reason;  // zlib's check fails first
  EXPECT_NE(crc_reason.find("corrupt PNG: tEXt: CRC error"), std::string::npos) << crc_reason;
  EXPECT_EQ(printed, "");
  // A warning about metadata only is accepted quietly (and the pixels are OpenCV's: DecodedPixelsEqualOpenCvs).
  EXPECT_EQ(captured_stderr([&] { EXPECT_EQ(bad_image_reason(file("bad_text_chunk.png")), ""); }), "");
}

TEST_F(Images, SizesOutsideTheLimitsAreRejectedBeforeDecoding) {
  EXPECT_EQ(bad_image_reason(file("tall.png")), "1 x 50000: aspect ratio 50000 above the limit of 100");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(bad_image_reason(file("bomb.png")),
            "30000 x 30000 pixels, more than the limit of 178956970 (a decompression bomb?)");
  // Inflating the bomb's 900 MB would take seconds; reading its header takes milliseconds.
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 0.5);
  // Limits of the caller's own, for every format (BMP and WebP go through OpenCV).
  const ImageLimits small{500, 100};
  for (const std::string name : {"rgb.jpg", "rgb.png", "rgb.bmp", "lossy.webp", "rgb.gif"})
    EXPECT_EQ(bad_image_reason(file(name), small), "37 x 23 pixels, more than the limit of 500 (a decompression bomb?)")
        << name;
  EXPECT_EQ(bad_image_reason(file("rgb.jpg"), ImageLimits{10000, 1.5}), "37 x 23: aspect ratio 1.6 above the limit of 1.5");
  // Header-only files claiming a huge size: the size is the reason, not the missing data.
  TempDir huge("huge");
  const std::vector<uint8_t> png_header = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                           0, 1, 0, 0, 0, 1, 0, 0, 8, 2, 0, 0, 0, 0x00, 0x00, 0x00, 0x00};
  write_file(huge.path() / "huge.png", png_header);
  EXPECT_EQ(bad_image_reason(huge.path() / "huge.png"),
            "65536 x 65536 pixels, more than the limit of 178956970 (a decompression bomb?)");
  const std::vector<uint8_t> jpeg_header = {0xFF, 0xD8, 0xFF, 0xC0, 0, 11, 8, 0xEA, 0x60, 0xEA, 0x60, 1, 1, 0x11, 0};
  write_file(huge.path() / "huge.jpg", jpeg_header);
  EXPECT_EQ(bad_image_reason(huge.path() / "huge.jpg"),
            "60000 x 60000 pixels, more than the limit of 178956970 (a decompression bomb?)");
}

TEST_F(Images, NotAnImageIsABadImage) {
  TempDir other("other");
  write_file(other.path() / "text.jpg", {'h', 'e', 'l', 'l', 'o'});
  EXPECT_EQ(bad_image_reason(other.path() / "text.jpg"), "cannot decode image (corrupt or not an image)");
  EXPECT_EQ(bad_image_reason(other.path() / "missing.png"), "file not found");
}

TEST_F(Images, TheLoaderSkipsBadFilesByNameOncePerFile) {
  TempDir tree("tree");
  const fs::path root = tree.path() / "set";
  fs::create_directories(root / "test/a");
  fs::copy_file(file("rgb.png"), root / "test/a/good.png");
  fs::copy_file(file("tall.png"), root / "test/a/tall.png");
  const std::vector<uint8_t> jpeg = read_file(file("rgb.jpg"));
  write_file(root / "test/a/half.jpg", std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + jpeg.size() / 2));
  auto dataset = load_image_folder(root, "test");
  LoaderOptions options;
  options.batch_size = 2;
  options.workers = 1;
  Loader loader(dataset, nullptr, options);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    loader.start_epoch(epoch);
    int64_t items = 0;
    while (auto batch = loader.next()) items += batch->images.size(0);
    EXPECT_EQ(items, 1);
  }
  const auto entries = loader.bad_images()->entries();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].first, (root / "test/a/half.jpg").string());
  EXPECT_EQ(entries[1].first, (root / "test/a/tall.png").string());
  options.on_bad_image = BadImagePolicy::Fail;
  Loader failing(dataset, nullptr, options);
  EXPECT_TRUE(throws_with<BadImageError>([&] { while (failing.next()) {} },
                                                  (root / "test/a/half.jpg").string() + ": corrupt JPEG"));
}
