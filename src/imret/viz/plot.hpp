#pragma once
// Plots for reports: scatter plots of 2-D embeddings coloured by class, line
// plots (precision-recall curves, training curves) and grouped bar charts of
// metrics, written as PNG or SVG. Drawn with cairo when imret is built with it
// (IMRET_WITH_CAIRO); without it every writer throws a UsageError that says so.
//
// Input rules, the same for every writer (errors name the output file):
//  - an empty list of series / groups / value names, x and y of different
//    lengths, a group with a different number of values than value names,
//    a size below 200 x 150 or above 10000 x 10000, or a fixed axis range
//    with min >= max: UsageError;
//  - non-finite values (NaN, ±inf) are skipped: a scatter point is not drawn,
//    a line breaks into pieces there, a bar is left out and labelled "n/a";
//  - a series with no (finite) points still gets its legend entry;
//  - the output folder is created when missing; a file that cannot be written
//    is an Error.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace imret::viz {

// True when this build can draw plots (built with cairo).
bool has_plots();

// One class in a scatter plot, one curve in a line plot.
struct Series {
  std::string label;
  std::vector<double> x, y;
};

struct PlotOptions {
  std::string title, x_label, y_label;
  int width = 1000, height = 800;  // pixels (PNG) / points (SVG)
  // Fixed axis ranges when set (e.g. PR curves: [0,1] x [0,1]); NaN = automatic.
  // Scatter and line plots use all four; bar charts only y_min / y_max.
  double x_min = NAN, x_max = NAN, y_min = NAN, y_max = NAN;
  double point_size = 0;   // scatter: dot diameter in pixels; 0 = automatic from the number of points
  double point_alpha = 0;  // scatter: dot opacity in (0, 1]; 0 = automatic (more points, more transparent)
  bool integer_x = false;  // x values are whole numbers (epochs): x ticks only on whole numbers
};

// Writes PNG or SVG by the extension of `file` (.png / .svg, any case;
// anything else: UsageError). The file is written to a temporary file in the
// same folder and renamed into place, so a failure never leaves a half file.

// An image to draw: height x width pixels of `channels` (1 grey, 3 RGB)
// bytes each, row by row.
struct Picture {
  int width = 0, height = 0, channels = 0;
  std::vector<std::uint8_t> pixels;
};

// A small picture drawn on a scatter plot, centred on a point, framed in its
// class colour.
struct Thumbnail {
  double x = 0, y = 0;     // data coordinates of the point
  std::size_t series = 0;  // its class: the frame's colour
  Picture picture;
};

// Points of each class as small semi-transparent dots, drawn in a fixed
// interleaved order so that no class always lies on top; legend at the right.
// Thumbnails, if any, are drawn over the dots, `thumbnail_size` pixels on
// their longer side (0: automatic). A thumbnail with an empty or malformed
// picture is a UsageError.
void write_scatter_plot(const std::vector<Series>& classes, const PlotOptions& options,
                        const std::filesystem::path& file, const std::vector<Thumbnail>& thumbnails = {},
                        double thumbnail_size = 0);

// Each series a polyline through its points in the given order; legend at the right.
void write_line_plot(const std::vector<Series>& curves, const PlotOptions& options, const std::filesystem::path& file);

// One group of bars per BarGroup (e.g. one experiment), one bar per value
// (e.g. one metric), each labelled with its value; value names in the legend.
struct BarGroup {
  std::string label;
  std::vector<double> values;  // one per value name
};
void write_bar_chart(const std::vector<std::string>& value_names, const std::vector<BarGroup>& groups,
                     const PlotOptions& options, const std::filesystem::path& file);

// A grid of pictures, one row per GridRow (e.g. a query and what it
// retrieved): each cell a picture framed green (correct), red (wrong) or not
// at all, with up to three lines of caption under it; the row's label at its
// left. Rows may have different numbers of cells.
enum class Verdict { none, correct, wrong };
struct GridCell {
  Picture picture;
  std::vector<std::string> caption;  // up to 3 short lines (cut short to the cell's width)
  Verdict verdict = Verdict::none;
};
struct GridRow {
  std::vector<std::string> label;  // up to 4 short lines at the left of the row
  std::vector<GridCell> cells;
};
struct GridOptions {
  std::string title;
  int cell_size = 112;  // pixels of a cell's picture (longer side)
};
// Writes PNG or SVG by extension (atomic). UsageError for no rows, a row
// without cells, a cell size outside 16..1024, an empty or malformed picture
// (size x channels != pixels), or a picture larger than 10000 x 10000.
void write_image_grid(const std::vector<GridRow>& rows, const GridOptions& options, const std::filesystem::path& file);

}  // namespace imret::viz
