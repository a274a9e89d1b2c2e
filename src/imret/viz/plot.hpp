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
};

// Writes PNG or SVG by the extension of `file` (.png / .svg, any case;
// anything else: UsageError). The file is written to a temporary file in the
// same folder and renamed into place, so a failure never leaves a half file.

// Points of each class as small semi-transparent dots, drawn in a fixed
// interleaved order so that no class always lies on top; legend at the right.
void write_scatter_plot(const std::vector<Series>& classes, const PlotOptions& options,
                        const std::filesystem::path& file);

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

}  // namespace imret::viz
