// Detections drawn on their image (built with cairo only).
#include <cairo.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <string>

#include "imret/core/error.hpp"
#include "imret/viz/detection_drawing.hpp"
#include "support/errors.hpp"
#include "support/scratch.hpp"

using namespace imret::viz;
using imret::detect::Detections;
using imret::testing::error_of;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) { return imret::testing::scratch_path("detect_drawing", name); }

struct Rgb {
  int r = 0, g = 0, b = 0;
  bool operator==(const Rgb& o) const { return r == o.r && g == o.g && b == o.b; }
};
std::ostream& operator<<(std::ostream& out, Rgb c) { return out << "rgb(" << c.r << "," << c.g << "," << c.b << ")"; }

Rgb rgb(const std::array<uint8_t, 3>& c) { return {c[0], c[1], c[2]}; }

// A PNG read back with cairo.
class Png {
 public:
  explicit Png(const fs::path& file) : surface_(cairo_image_surface_create_from_png(file.c_str())) {
    if (cairo_surface_status(surface_) != CAIRO_STATUS_SUCCESS) {
      throw std::runtime_error(file.string() + ": not a PNG cairo can read");
    }
  }
  ~Png() { cairo_surface_destroy(surface_); }
  Png(const Png&) = delete;
  Png& operator=(const Png&) = delete;
  int width() const { return cairo_image_surface_get_width(surface_); }
  int height() const { return cairo_image_surface_get_height(surface_); }
  Rgb at(int x, int y) const {
    const unsigned char* data = cairo_image_surface_get_data(surface_);
    const auto word = reinterpret_cast<const uint32_t*>(data + y * cairo_image_surface_get_stride(surface_))[x];
    return {static_cast<int>((word >> 16) & 0xff), static_cast<int>((word >> 8) & 0xff), static_cast<int>(word & 0xff)};
  }

 private:
  cairo_surface_t* surface_;
};

constexpr int kWidth = 200, kHeight = 160;

// The image's own colour at (x, y): a pattern every pixel of which differs
// from its neighbours, exactly representable as v / 255.
Rgb image_color(int x, int y) { return {(x * 7) % 256, (y * 5) % 256, 90}; }

torch::Tensor test_image() {
  torch::Tensor image = torch::empty({3, kHeight, kWidth});
  auto a = image.accessor<float, 3>();
  for (int y = 0; y < kHeight; ++y) {
    for (int x = 0; x < kWidth; ++x) {
      const Rgb c = image_color(x, y);
      a[0][y][x] = static_cast<float>(c.r) / 255.f;
      a[1][y][x] = static_cast<float>(c.g) / 255.f;
      a[2][y][x] = static_cast<float>(c.b) / 255.f;
    }
  }
  return image;
}

// A: a person in the middle; B: a car below the threshold at the lower
// right; C: a teddy bear at the top edge by the right edge (its tag must go
// inside the box and be pushed left to stay in the image).
Detections test_detections() {
  Detections d;
  d.boxes =
      torch::tensor({40.f, 50.f, 120.f, 110.f, 150.f, 0.f, 199.f, 40.f, 140.f, 100.f, 190.f, 150.f}).reshape({3, 4});
  d.scores = torch::tensor({0.9f, 0.8f, 0.3f});
  d.labels = torch::tensor({1, 88, 3}, torch::kLong);
  return d;
}

// Masks for the test detections: A's covers rows 60..99, columns 50..89;
// B's its whole box; C's nothing.
torch::Tensor test_masks() {
  torch::Tensor masks = torch::full({3, 1, kHeight, kWidth}, 0.1f);
  masks[0][0].slice(0, 60, 100).slice(1, 50, 90).fill_(0.9f);
  masks[2][0].slice(0, 100, 150).slice(1, 140, 190).fill_(0.9f);
  return masks;
}

DetectionDrawOptions options() {
  DetectionDrawOptions o;
  o.line_width = 4;
  return o;
}

}  // namespace

TEST(DetectionDrawing, BoxesTagsAndUntouchedPixels) {
  const fs::path file = scratch("boxes.png");
  write_detection_image(test_image(), test_detections(), options(), file);
  const Png png(file);
  ASSERT_EQ(png.width(), kWidth);
  ASSERT_EQ(png.height(), kHeight);

  const Rgb person = rgb(detection_color(1)), teddy = rgb(detection_color(88)), car = rgb(detection_color(3));
  EXPECT_FALSE(person == teddy);
  EXPECT_FALSE(person == car);
  // A's edges (4 px wide, centred on the box): left, right, top, bottom.
  for (const auto& [x, y] :
       {std::pair{40, 80}, {39, 80}, {41, 95}, {120, 80}, {118, 70}, {100, 50}, {80, 110}, {60, 111}}) {
    EXPECT_EQ(png.at(x, y), person) << x << "," << y;
  }
  // A's tag: above the box, from its outer left edge (the tag's padding).
  EXPECT_EQ(png.at(39, 46), person);
  // C's tag: inside the box (no room above), pushed left to end at the image's right edge.
  EXPECT_EQ(png.at(kWidth - 2, 3), teddy);
  EXPECT_EQ(png.at(140, 3), teddy);  // left of the box: pushed left
  // C's bottom edge.
  EXPECT_EQ(png.at(175, 40), teddy);
  // Inside A, away from its edges, and far from everything: the image itself.
  for (const auto& [x, y] : {std::pair{80, 80}, {5, 5}, {10, 150}, {100, 140}, {60, 100}, {2, 80}}) {
    EXPECT_EQ(png.at(x, y), image_color(x, y)) << x << "," << y;
  }
  // B scores 0.3, below the threshold 0.5: its edges show the image.
  for (const auto& [x, y] : {std::pair{140, 125}, {165, 100}, {190, 125}, {165, 150}}) {
    EXPECT_EQ(png.at(x, y), image_color(x, y)) << x << "," << y;
  }
}

TEST(DetectionDrawing, ThresholdDecidesWhatIsDrawn) {
  DetectionDrawOptions low = options();
  low.score_threshold = 0.2f;
  const fs::path all = scratch("threshold_low.png");
  write_detection_image(test_image(), test_detections(), low, all);
  EXPECT_EQ(Png(all).at(140, 125), rgb(detection_color(3)));  // B is drawn now

  DetectionDrawOptions high = options();
  high.score_threshold = 0.95f;
  const fs::path none = scratch("threshold_high.png");
  write_detection_image(test_image(), test_detections(), high, none);
  const Png png(none);
  for (int y = 0; y < kHeight; y += 3) {
    for (int x = 0; x < kWidth; x += 3) ASSERT_EQ(png.at(x, y), image_color(x, y)) << x << "," << y;
  }
}

TEST(DetectionDrawing, MasksTintTheirPixels) {
  Detections d = test_detections();
  d.masks = test_masks();
  const fs::path file = scratch("masks.png");
  write_detection_image(test_image(), d, options(), file);
  const Png png(file);
  const Rgb person = rgb(detection_color(1));
  // Inside A's mask: half the image, half the class colour (opacity 0.5).
  for (const auto& [x, y] : {std::pair{70, 80}, {51, 61}, {88, 98}}) {
    const Rgb image = image_color(x, y), seen = png.at(x, y);
    EXPECT_NEAR(seen.r, (image.r + person.r) / 2.0, 2) << x << "," << y;
    EXPECT_NEAR(seen.g, (image.g + person.g) / 2.0, 2) << x << "," << y;
    EXPECT_NEAR(seen.b, (image.b + person.b) / 2.0, 2) << x << "," << y;
  }
  // Inside A's box but outside its mask (probability 0.1), and inside the
  // mask of B (below the score threshold): untouched.
  for (const auto& [x, y] : {std::pair{100, 100}, {45, 55}, {92, 80}, {165, 125}}) {
    EXPECT_EQ(png.at(x, y), image_color(x, y)) << x << "," << y;
  }
  // The boxes are still drawn over the masks.
  EXPECT_EQ(png.at(40, 80), person);

  // Masks off: the mask's pixels show the image.
  DetectionDrawOptions no_masks = options();
  no_masks.draw_masks = false;
  const fs::path plain = scratch("masks_off.png");
  write_detection_image(test_image(), d, no_masks, plain);
  EXPECT_EQ(Png(plain).at(70, 80), image_color(70, 80));

  // A stronger opacity moves the pixel nearer the class colour.
  DetectionDrawOptions opaque = options();
  opaque.mask_opacity = 1.0;
  const fs::path solid = scratch("masks_opaque.png");
  write_detection_image(test_image(), d, opaque, solid);
  EXPECT_EQ(Png(solid).at(70, 80), person);
}

TEST(DetectionDrawing, GreyAndByteImagesAndSvg) {
  // A uint8 grey image: the far pixels keep its value.
  const torch::Tensor grey = torch::full({1, kHeight, kWidth}, 77, torch::kUInt8);
  const fs::path file = scratch("grey.png");
  DetectionDrawOptions o = options();
  o.category_names = {"zero", "one"};
  write_detection_image(grey, test_detections(), o, file);
  const Png png(file);
  EXPECT_EQ(png.at(5, 150), (Rgb{77, 77, 77}));
  EXPECT_EQ(png.at(40, 80), rgb(detection_color(1)));

  // No detections: the image as it is.
  const fs::path empty = scratch("empty.png");
  write_detection_image(test_image(), Detections{}, options(), empty);
  EXPECT_EQ(Png(empty).at(123, 45), image_color(123, 45));

  const fs::path svg = scratch("boxes.svg");
  o.category_name = [](int64_t label) { return "label " + std::to_string(label); };
  write_detection_image(test_image(), test_detections(), o, svg);
  std::ifstream in(svg);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<svg"), std::string::npos);
}

TEST(DetectionDrawing, ErrorsNameTheFile) {
  const fs::path file = scratch("errors.png");
  const auto error = [&](const torch::Tensor& image, const Detections& d, const DetectionDrawOptions& o,
                         const fs::path& target) {
    try {
      write_detection_image(image, d, o, target);
    } catch (const imret::UsageError& e) {
      return std::string(e.what());
    } catch (const imret::Error& e) {
      return std::string("(not a usage error) ") + e.what();
    }
    return std::string("(no error)");
  };
  const torch::Tensor image = test_image();
  const Detections d = test_detections();
  EXPECT_NE(error(image, d, options(), scratch("errors.jpg")).find("errors.jpg: unknown plot format"),
            std::string::npos);
  EXPECT_NE(error(image[0], d, options(), file).find(file.string() + ": the image must be 3 x H x W"),
            std::string::npos);
  EXPECT_NE(error(torch::zeros({3, 4, 20000}), d, options(), file).find("the limit is 1 to 10000"), std::string::npos);
  EXPECT_NE(error(image.to(torch::kInt), d, options(), file).find("floating-point in [0, 1] or uint8"),
            std::string::npos);
  Detections wrong = d;
  wrong.masks = torch::zeros({3, 1, 10, 10});
  EXPECT_NE(error(image, wrong, options(), file).find("masks must be K x 1 x H x W = 3 x 1 x 160 x 200"),
            std::string::npos);
  wrong = d;
  wrong.labels = torch::tensor({1, 2}, torch::kLong);
  EXPECT_NE(error(image, wrong, options(), file).find("labels must be one per box"), std::string::npos);
  DetectionDrawOptions bad = options();
  bad.mask_opacity = 0;
  EXPECT_NE(error(image, d, bad, file).find("mask opacity"), std::string::npos);
  EXPECT_FALSE(fs::exists(file));

  // A folder that cannot be created: an error naming the file, nothing written.
  const fs::path blocker = scratch("blocker");
  std::ofstream(blocker) << "a file";
  const fs::path inside = blocker / "image.png";
  EXPECT_NE(error_of([&] { write_detection_image(image, d, options(), inside); }).find(inside.string()),
            std::string::npos);
  EXPECT_FALSE(fs::exists(inside));
}
