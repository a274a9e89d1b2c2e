#pragma once
// Internal to the plotting module, for the cairo writers (*_cairo.cpp) only:
// colours and text on a cairo context, text measurement, pictures, and the
// output of a drawing to PNG or SVG through an atomic file.
#include <cairo.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "imret/viz/plot.hpp"
#include "imret/viz/plot_layout.hpp"
#include "imret/viz/plot_style.hpp"

namespace imret::viz::detail {

using ContextPtr = std::unique_ptr<cairo_t, decltype(&cairo_destroy)>;
using SurfacePtr = std::unique_ptr<cairo_surface_t, decltype(&cairo_surface_destroy)>;

constexpr double kPi = 3.14159265358979323846;

void set_color(cairo_t* cr, Color color, double alpha = 1);
void set_font(cairo_t* cr, double size, bool bold);

// Text measurements for a layout, on a scratch 1 x 1 image: the toy font
// metrics are the same on the PNG and SVG surfaces drawn later.
class TextMeasure {
 public:
  TextMeasure();
  double width(const std::string& text, double size, bool bold = false);
  // Ascent + descent: the height of a line of text, whatever its letters.
  double height(double size);
  // `text`, cut short with an ellipsis if it is wider than max_width.
  std::string fit(std::string text, double max_width, double size, bool bold = false);

 private:
  SurfacePtr surface_;
  ContextPtr cr_;
};

// One line of text with its top-left corner at the box's; vertical text reads
// bottom to top inside the box.
void draw_text(cairo_t* cr, const std::string& text, const Rect& box, double size, bool bold, bool vertical,
               Color color);

// `picture` scaled to fill `box` (the caller keeps the aspect ratio): pixels
// stay sharp squares when enlarged, are smoothed when reduced.
void draw_picture(cairo_t* cr, const Picture& picture, const Rect& box);

// Draws a width x height picture with `draw` on a white background and writes
// it to `file`, PNG or SVG by its extension, through an atomic file: errors
// name `file`, and a failure leaves no file behind.
void write_drawing(const std::filesystem::path& file, int width, int height, const std::function<void(cairo_t*)>& draw);

}  // namespace imret::viz::detail
