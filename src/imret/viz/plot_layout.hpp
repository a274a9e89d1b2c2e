#pragma once
// Internal to the plotting module: the geometry of a plot, shared by the cairo
// writers and their tests (which use it to find where a point, a curve or a
// label must have been drawn). No cairo types here.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "imret/viz/plot.hpp"

namespace imret::viz::detail {

struct Rect {
  double x = 0, y = 0, width = 0, height = 0;
  double right() const { return x + width; }
  double bottom() const { return y + height; }
  bool intersects(const Rect& other) const;
  bool contains(const Rect& other) const;
};

// A linear axis: the range shown and its ticks, 1, 2 or 5 x 10^k apart.
struct Axis {
  double lo = 0, hi = 1;
  double step = 0.5;
  std::vector<double> ticks;
};

// An axis over [lo, hi] with about max_ticks ticks (at least 2). widen_lo /
// widen_hi: move that end out to the nearest tick (automatic ranges);
// otherwise keep it (fixed ranges). lo == hi is widened around the value.
// min_step > 0: ticks at least that far apart (1: whole numbers only), unless
// a fixed range holds fewer than two of its multiples.
Axis nice_axis(double lo, double hi, int max_ticks, bool widen_lo, bool widen_hi, double min_step = 0);

// A tick label with just the decimals `step` needs: "0.2", "−15", "1e+06"
// (negative numbers with a real minus sign, U+2212).
std::string tick_label(double value, double step);
// Bar value labels: the decimals that give the largest |value| of a chart
// three significant digits (0.914 -> 3, 45.7 -> 1, 1234 -> 0), for every bar.
int value_decimals(double largest);
std::string value_label(double value, int decimals);

// `text` with every byte that is not part of valid UTF-8 replaced by U+FFFD
// (cairo refuses to draw invalid UTF-8; labels may come from file names).
std::string valid_utf8(const std::string& text);

// Data coordinates to pixels (y grows downward in pixels).
struct Mapping {
  Rect area;  // the plot area
  Axis x, y;
  double px(double data_x) const;
  double py(double data_y) const;
};

struct Range {
  double lo, hi;  // NaN when there is no finite value
};
// The finite x (or y) values of all series.
Range finite_range(const std::vector<Series>& series, bool x);
// The range an axis shows: fixed ends where set (not NaN), the data's
// elsewhere, the latter widened by `padding` x the span so that points on the
// edge are not cut in half. [0, 1] when there is no data at all.
Range axis_range(Range data, double fixed_lo, double fixed_hi, double padding);

// Input checks (see plot.hpp); they throw UsageError naming `file`.
enum class FileFormat { png, svg };
FileFormat file_format(const std::filesystem::path& file);
void check_options(const PlotOptions& options, const std::filesystem::path& file);
void check_series(const std::vector<Series>& series, const char* plot, const std::filesystem::path& file);
// A picture with a size, 1 or 3 channels and exactly its pixels; `what`
// names it in the error ("a thumbnail", "the picture of row 2, cell 3").
void check_picture(const Picture& picture, const std::string& what, const std::filesystem::path& file);
void check_bars(const std::vector<std::string>& value_names, const std::vector<BarGroup>& groups,
                const std::filesystem::path& file);

// The order in which scatter points are drawn: every (series, index) once, in
// a fixed pseudo-random order, so that classes interleave and none is always on top.
struct PointRef {
  std::uint32_t series, index;
};
std::vector<PointRef> drawing_order(const std::vector<Series>& series);
// Automatic dot diameter (pixels) and opacity for `points` dots in `area`:
// fewer points, bigger and more opaque dots.
double auto_dot_diameter(std::size_t points, const Rect& area);
double auto_dot_alpha(std::size_t points);

// Bar `value` of group `group` (value_count bars per group) in a bar chart's
// mapping (x: group index, y: value); the bar spans from 0 (or the axis end
// nearest 0) to `v`.
Rect bar_rect(const Mapping& mapping, std::size_t group, std::size_t value, std::size_t value_count, double v);

// The complete layout of a plot: where every text, the legend and the plot
// area go. Computed by the cairo writers (it needs text measurements):
// scatter_frame, line_frame and bar_frame in plot_cairo.cpp.
enum class TextRole { title, axis_label, tick_label };
struct Text {
  std::string text;
  Rect box;  // vertical text: rotated 90 degrees counter-clockwise inside the box
  double font_size = 0;
  bool bold = false, vertical = false;
  TextRole role = TextRole::tick_label;
};
enum class Marker { dot, line, square };
struct LegendEntry {
  std::string text;
  Rect marker, text_box;
};
struct Legend {
  Rect box;
  Marker marker = Marker::dot;
  double font_size = 0;
  std::vector<LegendEntry> entries;
};
struct Frame {
  int width = 0, height = 0;
  double scale = 1;  // sizes in plot_style.hpp are multiplied by this
  Mapping mapping;
  bool categorical_x = false;  // bar charts: x is the group index, no vertical grid
  std::vector<Text> texts;
  Legend legend;
};
Frame scatter_frame(const std::vector<Series>& classes, const PlotOptions& options);
Frame line_frame(const std::vector<Series>& curves, const PlotOptions& options);
Frame bar_frame(const std::vector<std::string>& value_names, const std::vector<BarGroup>& groups,
                const PlotOptions& options);

// The layout of an image grid (write_image_grid): every text, and the square
// box of each cell's picture (the picture is fitted inside, centred; the
// verdict's frame goes around the box, `frame_width` wide).
struct GridLayout {
  int width = 0, height = 0;
  double frame_width = 0;
  std::vector<Text> texts;
  std::vector<std::vector<Rect>> cells;  // [row][cell]
};
GridLayout grid_layout(const std::vector<GridRow>& rows, const GridOptions& options);
// Where a picture of w x h goes inside its cell's square box: as large as
// fits, aspect kept, centred.
Rect fit_picture(int w, int h, const Rect& box);

}  // namespace imret::viz::detail
