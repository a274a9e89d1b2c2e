// The cairo helpers every plot writer shares (cairo_canvas.hpp).
#include <cairo-svg.h>

#include <algorithm>
#include <ostream>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/viz/cairo_canvas.hpp"

namespace imret::viz::detail {
namespace fs = std::filesystem;

void set_color(cairo_t* cr, Color color, double alpha) { cairo_set_source_rgba(cr, color.r, color.g, color.b, alpha); }

void set_font(cairo_t* cr, double size, bool bold) {
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

TextMeasure::TextMeasure()
    : surface_(cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1), cairo_surface_destroy),
      cr_(cairo_create(surface_.get()), cairo_destroy) {}

double TextMeasure::width(const std::string& text, double size, bool bold) {
  set_font(cr_.get(), size, bold);
  cairo_text_extents_t extents;
  cairo_text_extents(cr_.get(), text.c_str(), &extents);
  return extents.x_advance;
}

double TextMeasure::height(double size) {
  set_font(cr_.get(), size, false);
  cairo_font_extents_t extents;
  cairo_font_extents(cr_.get(), &extents);
  return extents.ascent + extents.descent;
}

std::string TextMeasure::fit(std::string text, double max_width, double size, bool bold) {
  if (width(text, size, bold) <= max_width) return text;
  const std::string ellipsis = "\xe2\x80\xa6";  // U+2026
  while (!text.empty()) {
    // Drop one UTF-8 character: its continuation bytes, then its lead byte.
    while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xc0) == 0x80) text.pop_back();
    if (!text.empty()) text.pop_back();
    if (width(text + ellipsis, size, bold) <= max_width) break;
  }
  return text + ellipsis;
}

void draw_text(cairo_t* cr, const std::string& text, const Rect& box, double size, bool bold, bool vertical,
               Color color) {
  set_font(cr, size, bold);
  cairo_font_extents_t extents;
  cairo_font_extents(cr, &extents);
  set_color(cr, color);
  cairo_save(cr);
  if (vertical) {  // reads bottom to top; the ascent points left
    cairo_move_to(cr, box.x + extents.ascent, box.bottom());
    cairo_rotate(cr, -kPi / 2);
  } else {
    cairo_move_to(cr, box.x, box.y + extents.ascent);
  }
  cairo_show_text(cr, text.c_str());
  cairo_new_path(cr);
  cairo_restore(cr);
}

void draw_picture(cairo_t* cr, const Picture& picture, const Rect& box) {
  if (picture.width <= 0 || picture.height <= 0 || box.width <= 0 || box.height <= 0) return;
  SurfacePtr image(cairo_image_surface_create(CAIRO_FORMAT_RGB24, picture.width, picture.height),
                   cairo_surface_destroy);
  cairo_surface_flush(image.get());
  unsigned char* data = cairo_image_surface_get_data(image.get());
  const int stride = cairo_image_surface_get_stride(image.get());
  const std::uint8_t* source = picture.pixels.data();
  for (int row = 0; row < picture.height; ++row) {
    auto* out = reinterpret_cast<std::uint32_t*>(data + static_cast<std::ptrdiff_t>(row) * stride);
    for (int col = 0; col < picture.width; ++col, source += picture.channels) {
      const std::uint32_t r = source[0];
      const std::uint32_t g = picture.channels == 3 ? source[1] : r;
      const std::uint32_t b = picture.channels == 3 ? source[2] : r;
      out[col] = 0xff000000u | (r << 16) | (g << 8) | b;
    }
  }
  cairo_surface_mark_dirty(image.get());
  cairo_save(cr);
  cairo_rectangle(cr, box.x, box.y, box.width, box.height);
  cairo_clip(cr);
  cairo_translate(cr, box.x, box.y);
  cairo_scale(cr, box.width / picture.width, box.height / picture.height);
  cairo_set_source_surface(cr, image.get(), 0, 0);
  // Enlarged pixels stay sharp squares (a 28 x 28 item is its pixels);
  // reduced pictures are filtered.
  const bool enlarged = box.width >= picture.width && box.height >= picture.height;
  cairo_pattern_set_filter(cairo_get_source(cr), enlarged ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
  cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
  cairo_paint(cr);
  cairo_restore(cr);
}

namespace {

cairo_status_t write_to_stream(void* closure, const unsigned char* data, unsigned int length) {
  auto& out = *static_cast<std::ostream*>(closure);
  out.write(reinterpret_cast<const char*>(data), length);
  return out ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

void check_cairo(cairo_status_t status, const fs::path& file) {
  if (status != CAIRO_STATUS_SUCCESS) {
    throw Error(file.string() + ": cannot write the plot: " + cairo_status_to_string(status));
  }
}

// The atomic output file; its errors name `file` first, whatever failed.
std::unique_ptr<AtomicFile> open_output(const fs::path& file) {
  try {
    return std::make_unique<AtomicFile>(file);
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind(file.string() + ":", 0) == 0) throw;
    throw Error(file.string() + ": cannot write the plot: " + what);
  }
}

}  // namespace

void write_drawing(const fs::path& file, int width, int height, const std::function<void(cairo_t*)>& draw) {
  const FileFormat format = file_format(file);
  const std::unique_ptr<AtomicFile> out = open_output(file);
  SurfacePtr surface(format == FileFormat::png
                         ? cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height)
                         : cairo_svg_surface_create_for_stream(write_to_stream, &out->stream(), width, height),
                     cairo_surface_destroy);
  ContextPtr context(cairo_create(surface.get()), cairo_destroy);
  cairo_t* cr = context.get();
  set_color(cr, kBackground);
  cairo_paint(cr);
  draw(cr);
  check_cairo(cairo_status(cr), file);
  context.reset();
  if (format == FileFormat::png) {
    check_cairo(cairo_surface_write_to_png_stream(surface.get(), write_to_stream, &out->stream()), file);
  } else {
    cairo_surface_finish(surface.get());
    check_cairo(cairo_surface_status(surface.get()), file);
  }
  out->commit();
}

}  // namespace imret::viz::detail
