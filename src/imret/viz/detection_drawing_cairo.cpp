// Detections drawn on their image with cairo (detection_drawing.hpp).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "imret/core/error.hpp"
#include "imret/detect/coco_categories.hpp"
#include "imret/viz/cairo_canvas.hpp"
#include "imret/viz/detection_drawing.hpp"
#include "imret/viz/plot_layout.hpp"
#include "imret/viz/plot_style.hpp"

namespace imret::viz {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxSide = 10000;

detail::Color color_of(int64_t label) {
  const std::array<uint8_t, 3> c = detection_color(label);
  return {c[0] / 255.0, c[1] / 255.0, c[2] / 255.0};
}

std::string name_of(int64_t label, const DetectionDrawOptions& options) {
  if (options.category_name) return options.category_name(label);
  if (!options.category_names.empty()) {
    if (label >= 0 && label < static_cast<int64_t>(options.category_names.size())) {
      return options.category_names[static_cast<size_t>(label)];
    }
    return "class " + std::to_string(label);
  }
  return detect::coco_category_name(label);
}

// The image as 8-bit pixels, row by row; UsageError naming `file` when malformed.
Picture picture_of(const torch::Tensor& image, const fs::path& file) {
  const auto fail = [&](const std::string& why) { throw UsageError(file.string() + ": the image " + why); };
  if (!image.defined()) fail("is an undefined tensor");
  if (image.dim() != 3 || (image.size(0) != 1 && image.size(0) != 3)) {
    fail("must be 3 x H x W (RGB) or 1 x H x W (grey), not " + c10::str(image.sizes()));
  }
  const int64_t height = image.size(1), width = image.size(2);
  if (height < 1 || width < 1 || height > kMaxSide || width > kMaxSide) {
    fail("is " + std::to_string(width) + " x " + std::to_string(height) + " pixels; the limit is 1 to " +
         std::to_string(kMaxSide) + " a side");
  }
  torch::Tensor bytes;
  if (image.is_floating_point()) {
    bytes = image.detach().to(torch::kCPU, torch::kFloat).nan_to_num(0).clamp(0, 1).mul(255).round().to(torch::kUInt8);
  } else if (image.scalar_type() == torch::kUInt8) {
    bytes = image.detach().cpu();
  } else {
    fail("must be floating-point in [0, 1] or uint8, not " + std::string(c10::toString(image.scalar_type())));
  }
  bytes = bytes.permute({1, 2, 0}).contiguous();
  Picture picture;
  picture.width = static_cast<int>(width);
  picture.height = static_cast<int>(height);
  picture.channels = static_cast<int>(image.size(0));
  picture.pixels.assign(bytes.data_ptr<uint8_t>(), bytes.data_ptr<uint8_t>() + bytes.numel());
  return picture;
}

void check_options(const DetectionDrawOptions& options, const fs::path& file) {
  const auto fail = [&](const std::string& why) { throw UsageError(file.string() + ": " + why); };
  if (std::isnan(options.score_threshold)) fail("the score threshold is not a number");
  if (!std::isfinite(options.line_width) || options.line_width < 0 || options.line_width > 1000) {
    fail("line width " + std::to_string(options.line_width) + " is out of range (0 = automatic, up to 1000)");
  }
  if (!(options.mask_opacity > 0 && options.mask_opacity <= 1)) {
    fail("mask opacity " + std::to_string(options.mask_opacity) + " is out of range (0, 1]");
  }
  if (std::isnan(options.mask_threshold)) fail("the mask threshold is not a number");
}

// A set pixel of a mask drawn as a translucent fill of `color`: an A8 cairo
// mask over the bounding rectangle of the set pixels.
void draw_mask(cairo_t* cr, const torch::Tensor& set, detail::Color color, double opacity) {
  const int64_t height = set.size(0), width = set.size(1);
  const uint8_t* bits = set.data_ptr<uint8_t>();
  int64_t x0 = width, x1 = -1, y0 = height, y1 = -1;
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* row = bits + y * width;
    const uint8_t* first = std::find(row, row + width, uint8_t{1});
    if (first == row + width) continue;
    int64_t last = width - 1;
    while (!row[last]) --last;
    x0 = std::min(x0, static_cast<int64_t>(first - row));
    x1 = std::max(x1, last);
    y0 = std::min(y0, y);
    y1 = y;
  }
  if (x1 < 0) return;
  const int w = static_cast<int>(x1 - x0 + 1), h = static_cast<int>(y1 - y0 + 1);
  detail::SurfacePtr alpha(cairo_image_surface_create(CAIRO_FORMAT_A8, w, h), cairo_surface_destroy);
  cairo_surface_flush(alpha.get());
  unsigned char* data = cairo_image_surface_get_data(alpha.get());
  const int stride = cairo_image_surface_get_stride(alpha.get());
  for (int y = 0; y < h; ++y) {
    const uint8_t* row = bits + (y0 + y) * width + x0;
    unsigned char* out = data + static_cast<std::ptrdiff_t>(y) * stride;
    for (int x = 0; x < w; ++x) out[x] = row[x] ? 255 : 0;
  }
  cairo_surface_mark_dirty(alpha.get());
  detail::set_color(cr, color, opacity);
  cairo_mask_surface(cr, alpha.get(), static_cast<double>(x0), static_cast<double>(y0));
}

}  // namespace

void write_detection_image(const torch::Tensor& image, const detect::Detections& detections,
                           const DetectionDrawOptions& options, const fs::path& file) {
  detail::file_format(file);
  check_options(options, file);
  const Picture picture = picture_of(image, file);
  const int64_t width = picture.width, height = picture.height;
  const auto fail = [&](const std::string& why) { throw UsageError(file.string() + ": the detections' " + why); };

  const int64_t k = detections.size();
  torch::Tensor boxes, scores, labels, masks;
  if (k > 0) {
    if (detections.boxes.dim() != 2 || detections.boxes.size(1) != 4) fail("boxes must be K x 4");
    if (!detections.scores.defined() || detections.scores.dim() != 1 || detections.scores.size(0) != k) {
      fail("scores must be one per box");
    }
    if (!detections.labels.defined() || detections.labels.dim() != 1 || detections.labels.size(0) != k) {
      fail("labels must be one per box");
    }
    boxes = detections.boxes.detach().to(torch::kCPU, torch::kDouble).contiguous();
    scores = detections.scores.detach().to(torch::kCPU, torch::kFloat).contiguous();
    labels = detections.labels.detach().to(torch::kCPU, torch::kLong).contiguous();
    if (options.draw_masks && detections.has_masks()) {
      const torch::Tensor& m = detections.masks;
      if (m.dim() != 4 || m.size(0) != k || m.size(1) != 1 || m.size(2) != height || m.size(3) != width) {
        fail("masks must be K x 1 x H x W = " + std::to_string(k) + " x 1 x " + std::to_string(height) + " x " +
             std::to_string(width) + " (the image's size), not " + c10::str(m.sizes()));
      }
      masks = m.detach().cpu();
    }
  }

  // The detections to draw, lowest score first (drawn first, so underneath).
  std::vector<int64_t> order;
  const float* s = k > 0 ? scores.data_ptr<float>() : nullptr;
  const double* b = k > 0 ? boxes.data_ptr<double>() : nullptr;
  for (int64_t i = 0; i < k; ++i) {
    const bool finite = std::all_of(b + 4 * i, b + 4 * i + 4, [](double v) { return std::isfinite(v); });
    if (finite && s[i] >= options.score_threshold) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t c) { return s[a] < s[c]; });
  const int64_t* l = k > 0 ? labels.data_ptr<int64_t>() : nullptr;

  const double side = static_cast<double>(std::max(width, height));
  const double line = options.line_width > 0 ? options.line_width : std::max(2.0, std::round(side / 320.0));
  const double font = std::clamp(std::round(side / 45.0), 10.0, 28.0);
  const double pad = std::max(2.0, std::round(font * 0.25));

  detail::write_drawing(file, static_cast<int>(width), static_cast<int>(height), [&](cairo_t* cr) {
    detail::draw_picture(cr, picture, detail::Rect{0, 0, static_cast<double>(width), static_cast<double>(height)});
    if (masks.defined()) {
      for (const int64_t i : order) {
        const torch::Tensor set = masks[i][0].gt(options.mask_threshold).to(torch::kUInt8).contiguous();
        draw_mask(cr, set, color_of(l[i]), options.mask_opacity);
      }
    }
    cairo_set_line_width(cr, line);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_MITER);
    for (const int64_t i : order) {
      const double* box = b + 4 * i;
      detail::set_color(cr, color_of(l[i]));
      cairo_rectangle(cr, box[0], box[1], box[2] - box[0], box[3] - box[1]);
      cairo_stroke(cr);
    }
    detail::set_font(cr, font, false);
    cairo_font_extents_t font_extents;
    cairo_font_extents(cr, &font_extents);
    const double tag_height = std::ceil(font_extents.ascent + font_extents.descent) + 2 * pad;
    for (const int64_t i : order) {
      const double* box = b + 4 * i;
      char score[32];
      std::snprintf(score, sizeof score, "%.2f", static_cast<double>(s[i]));
      const std::string text = detail::valid_utf8(name_of(l[i], options)) + " " + score;
      cairo_text_extents_t extents;
      cairo_text_extents(cr, text.c_str(), &extents);
      const double tag_width = std::ceil(extents.x_advance) + 2 * pad;
      // At the box's outer top-left corner; above the box when there is room,
      // else just inside its top; always inside the image.
      const double left = std::min(box[0], box[2]) - line / 2, top = std::min(box[1], box[3]) - line / 2;
      const double x = std::max(0.0, std::min(std::round(left), static_cast<double>(width) - tag_width));
      double y = std::round(top - tag_height);
      if (y < 0) y = std::round(top + line);
      y = std::max(0.0, std::min(y, static_cast<double>(height) - tag_height));
      const detail::Color color = color_of(l[i]);
      detail::set_color(cr, color);
      cairo_rectangle(cr, x, y, tag_width, tag_height);
      cairo_fill(cr);
      const double luminance = 0.299 * color.r + 0.587 * color.g + 0.114 * color.b;
      detail::draw_text(cr, text, detail::Rect{x + pad, y + pad, tag_width - 2 * pad, tag_height - 2 * pad}, font,
                        false, false, luminance > 0.6 ? detail::kText : detail::kBackground);
    }
  });
}

}  // namespace imret::viz
