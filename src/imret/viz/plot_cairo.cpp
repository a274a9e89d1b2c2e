// Plots drawn with cairo: layout (text measured with cairo's toy text API),
// drawing, and PNG / SVG output through an atomic file.
#include <algorithm>
#include <cmath>
#include <functional>

#include "imret/core/error.hpp"
#include "imret/viz/cairo_canvas.hpp"
#include "imret/viz/plot.hpp"
#include "imret/viz/plot_layout.hpp"
#include "imret/viz/plot_style.hpp"

namespace imret::viz {
namespace fs = std::filesystem;

bool has_plots() { return true; }

namespace detail {
namespace {

constexpr std::size_t kScatterLayers = 64;  // see draw_scatter

// What a plot puts on its axes: a numeric range, or one category per group (bar charts).
struct AxesPlan {
  Range x{0, 1}, y{0, 1};
  bool widen_x_lo = false, widen_x_hi = false, widen_y_lo = false, widen_y_hi = false;
  bool integer_x = false;
  std::vector<std::string> categories;
};

// Text sizes of one plot, scaled with its size.
struct Sizes {
  double scale, pad, tick_length, title, label, tick, legend;
  explicit Sizes(const PlotOptions& options)
      : scale(std::clamp(std::sqrt(double(options.width) * options.height / (1000.0 * 800.0)), 0.75, 4.0)),
        pad(kPad * scale),
        tick_length(kTickLength * scale),
        title(kTitleFont * scale),
        label(kLabelFont * scale),
        tick(kTickFont * scale),
        legend(kLegendFont * scale) {}
};

// The legend's entries, measured, before it is placed: in one column, or in
// several when they do not fit max_height; labels cut short to keep the
// legend within max_width.
struct LegendPlan {
  std::vector<std::string> labels;
  std::size_t columns, rows;
  double marker_width, marker_height, gap, row_height, inset, column_width, column_gap;
  double width() const {
    return 2 * inset + static_cast<double>(columns) * column_width + static_cast<double>(columns - 1) * column_gap;
  }
};

LegendPlan plan_legend(TextMeasure& measure, const std::vector<std::string>& labels, Marker marker, const Sizes& sizes,
                       double max_width, double max_height) {
  LegendPlan plan;
  plan.marker_width = (marker == Marker::line ? 2.4 : 0.85) * sizes.legend;
  plan.marker_height = marker == Marker::line ? sizes.legend * 0.5 : 0.85 * sizes.legend;
  plan.gap = 0.5 * sizes.legend;
  plan.row_height = 1.5 * sizes.legend;
  plan.inset = 0.8 * sizes.pad;
  plan.column_gap = 1.5 * sizes.legend;
  const double rows_fit = std::max(1.0, std::floor((max_height - 2 * plan.inset) / plan.row_height));
  plan.columns = (labels.size() + static_cast<std::size_t>(rows_fit) - 1) / static_cast<std::size_t>(rows_fit);
  plan.rows = (labels.size() + plan.columns - 1) / plan.columns;  // balanced columns
  const double columns = static_cast<double>(plan.columns);
  // At least a few letters of each label, even if the legend gets wider than max_width.
  const double max_label =
      std::max(3 * sizes.legend,
               (max_width - 2 * plan.inset - (columns - 1) * plan.column_gap) / columns - plan.marker_width - plan.gap);
  double widest = 0;
  for (const std::string& label : labels) {
    plan.labels.push_back(measure.fit(valid_utf8(label), max_label, sizes.legend));
    widest = std::max(widest, measure.width(plan.labels.back(), sizes.legend));
  }
  plan.column_width = plan.marker_width + plan.gap + widest;
  return plan;
}

// Places the legend at the right of the image, top-aligned with the plot area
// (outside it, so that it never hides data).
Legend place_legend(TextMeasure& measure, const LegendPlan& plan, Marker marker, const Sizes& sizes, double right,
                    double top) {
  Legend legend;
  legend.marker = marker;
  legend.font_size = sizes.legend;
  legend.box.width = plan.width();
  legend.box.height = 2 * plan.inset + static_cast<double>(plan.rows) * plan.row_height;
  legend.box.x = std::round(right - legend.box.width);
  legend.box.y = top;
  const double text_height = measure.height(sizes.legend);
  for (std::size_t i = 0; i < plan.labels.size(); ++i) {
    const double x =
        legend.box.x + plan.inset + static_cast<double>(i / plan.rows) * (plan.column_width + plan.column_gap);
    const double y = legend.box.y + plan.inset + static_cast<double>(i % plan.rows) * plan.row_height;
    LegendEntry entry;
    entry.text = plan.labels[i];
    entry.marker = {x, y + (plan.row_height - plan.marker_height) / 2, plan.marker_width, plan.marker_height};
    entry.text_box = {entry.marker.right() + plan.gap, y + (plan.row_height - text_height) / 2,
                      measure.width(entry.text, sizes.legend), text_height};
    legend.entries.push_back(std::move(entry));
  }
  return legend;
}

// Numeric x ticks: as many as fit without their labels touching.
Axis fit_x_axis(TextMeasure& measure, const AxesPlan& plan, double plot_width, const Sizes& sizes) {
  for (int max_ticks = std::max(2, static_cast<int>(plot_width / (3 * sizes.tick)));; --max_ticks) {
    Axis axis = nice_axis(plan.x.lo, plan.x.hi, max_ticks, plan.widen_x_lo, plan.widen_x_hi, plan.integer_x ? 1 : 0);
    double widest = 0;
    for (const double tick : axis.ticks)
      widest = std::max(widest, measure.width(tick_label(tick, axis.step), sizes.tick));
    const double spacing = plot_width * axis.step / (axis.hi - axis.lo);
    if (spacing >= widest + 1.5 * sizes.tick || max_ticks <= 2) return axis;
  }
}

// Group labels under the bars, fitted to their slots or, when one does not
// fit, turned upright (and cut short at 30% of the height).
struct Categories {
  std::vector<std::string> labels;
  bool upright = false;
  double height = 0;  // the space they take under the plot area
};

Categories plan_categories(TextMeasure& measure, const std::vector<std::string>& labels, const Sizes& sizes,
                           double estimated_plot_width, double image_height) {
  Categories categories;
  const double slot = estimated_plot_width / static_cast<double>(labels.size());
  double widest = 0;
  for (const std::string& label : labels) {
    categories.labels.push_back(valid_utf8(label));
    widest = std::max(widest, measure.width(categories.labels.back(), sizes.tick));
  }
  categories.upright = widest > 0.95 * slot;
  const double max_length = categories.upright ? 0.3 * image_height : 0.95 * slot;
  widest = 0;
  for (std::string& label : categories.labels) {
    label = measure.fit(label, max_length, sizes.tick);
    widest = std::max(widest, measure.width(label, sizes.tick));
  }
  categories.height = categories.upright ? widest : measure.height(sizes.tick);
  return categories;
}

// Tick labels: x centred under their tick (bar charts: the group labels), y
// right-aligned left of theirs.
void place_tick_labels(TextMeasure& measure, const Categories& categories, const Sizes& sizes, Frame& frame) {
  const Mapping& m = frame.mapping;
  const double tick_height = measure.height(sizes.tick);
  const double x_ticks_top = m.area.bottom() + sizes.tick_length + 0.5 * sizes.pad;
  for (std::size_t i = 0; i < m.x.ticks.size(); ++i) {
    const double tick = m.x.ticks[i];
    const std::string text = frame.categorical_x ? categories.labels[i] : tick_label(tick, m.x.step);
    const double text_width = measure.width(text, sizes.tick);
    const Rect box = categories.upright ? Rect{m.px(tick) - tick_height / 2, x_ticks_top, tick_height, text_width}
                                        : Rect{m.px(tick) - text_width / 2, x_ticks_top, text_width, tick_height};
    // A long legend reaches below the plot area: the last label may not fit beside it.
    if (box.intersects(frame.legend.box) || box.right() > frame.width) continue;
    frame.texts.push_back({text, box, sizes.tick, false, categories.upright, TextRole::tick_label});
  }
  for (const double tick : m.y.ticks) {
    const std::string text = tick_label(tick, m.y.step);
    const double text_width = measure.width(text, sizes.tick);
    const Rect box{m.area.x - sizes.tick_length - 0.5 * sizes.pad - text_width, m.py(tick) - tick_height / 2,
                   text_width, tick_height};
    frame.texts.push_back({text, box, sizes.tick, false, false, TextRole::tick_label});
  }
}

// Axis labels, centred on the plot area: x at the bottom of the image, y
// upright at its left.
void place_axis_labels(TextMeasure& measure, const PlotOptions& options, const Sizes& sizes, Frame& frame) {
  const Rect& area = frame.mapping.area;
  const double label_height = measure.height(sizes.label);
  if (!options.x_label.empty()) {
    const std::string text = measure.fit(valid_utf8(options.x_label), area.width, sizes.label);
    const double text_width = measure.width(text, sizes.label);
    const Rect box{area.x + (area.width - text_width) / 2, frame.height - sizes.pad - label_height, text_width,
                   label_height};
    frame.texts.push_back({text, box, sizes.label, false, false, TextRole::axis_label});
  }
  if (!options.y_label.empty()) {
    const std::string text = measure.fit(valid_utf8(options.y_label), area.height, sizes.label);
    const double text_width = measure.width(text, sizes.label);
    const Rect box{sizes.pad, area.y + (area.height - text_width) / 2, label_height, text_width};
    frame.texts.push_back({text, box, sizes.label, false, true, TextRole::axis_label});
  }
}

// The layout: the title on top, the x tick labels and x label at the bottom,
// the y label and tick labels at the left, the legend at the right; the plot
// area takes the rest.
Frame layout(const PlotOptions& options, const std::vector<std::string>& legend_labels, Marker marker,
             const AxesPlan& plan) {
  TextMeasure measure;
  const Sizes sizes(options);
  const double width = options.width, height = options.height, pad = sizes.pad;
  Frame frame;
  frame.width = options.width;
  frame.height = options.height;
  frame.scale = sizes.scale;
  frame.categorical_x = !plan.categories.empty();
  const double label_height = measure.height(sizes.label);

  double top = 2 * pad;  // room for half the top y tick label
  if (!options.title.empty()) {
    const std::string title = measure.fit(valid_utf8(options.title), width - 2 * pad, sizes.title, true);
    const double title_width = measure.width(title, sizes.title, true);
    const double title_height = measure.height(sizes.title);
    frame.texts.push_back({title,
                           {(width - title_width) / 2, pad, title_width, title_height},
                           sizes.title,
                           true,
                           false,
                           TextRole::title});
    top = pad + title_height + pad;
  }

  const double legend_max_width = 0.3 * width;
  const double y_label_space = options.y_label.empty() ? 0 : label_height + pad;
  Categories categories;
  categories.height = measure.height(sizes.tick);
  if (frame.categorical_x) {
    // The plot width is not known yet: estimate it with the widest y tick labels likely.
    const double legend_width =
        plan_legend(measure, legend_labels, marker, sizes, legend_max_width, height - top - pad).width();
    const double estimated_plot_width = width - (3 * pad + y_label_space + 4 * sizes.tick) - legend_width - 3 * pad;
    categories = plan_categories(measure, plan.categories, sizes, estimated_plot_width, height);
  }
  const double x_label_space = options.x_label.empty() ? 0 : label_height + 0.5 * pad;
  const double bottom = sizes.tick_length + 0.5 * pad + categories.height + 0.5 * pad + x_label_space + pad;
  const double plot_top = std::round(top);
  const double plot_height = std::round(height - bottom) - plot_top;

  // The legend may reach below the plot area, down to the image's bottom margin.
  frame.legend = place_legend(
      measure, plan_legend(measure, legend_labels, marker, sizes, legend_max_width, height - pad - plot_top), marker,
      sizes, width - pad, plot_top);

  Mapping& mapping = frame.mapping;
  mapping.y =
      nice_axis(plan.y.lo, plan.y.hi, std::max(2, static_cast<int>(plot_height / (4 * measure.height(sizes.tick))) + 1),
                plan.widen_y_lo, plan.widen_y_hi);
  double y_ticks_width = 0;
  for (const double tick : mapping.y.ticks) {
    y_ticks_width = std::max(y_ticks_width, measure.width(tick_label(tick, mapping.y.step), sizes.tick));
  }
  const double plot_left = std::round(pad + y_label_space + y_ticks_width + 0.5 * pad + sizes.tick_length);
  const double plot_right = std::round(frame.legend.box.x - 2 * pad);
  mapping.area = {plot_left, plot_top, std::max(1.0, plot_right - plot_left), std::max(1.0, plot_height)};
  if (frame.categorical_x) {
    mapping.x.lo = -0.5;
    mapping.x.hi = static_cast<double>(categories.labels.size()) - 0.5;
    mapping.x.step = 1;
    for (std::size_t i = 0; i < categories.labels.size(); ++i) mapping.x.ticks.push_back(static_cast<double>(i));
  } else {
    mapping.x = fit_x_axis(measure, plan, mapping.area.width, sizes);
  }
  place_tick_labels(measure, categories, sizes, frame);
  place_axis_labels(measure, options, sizes, frame);
  return frame;
}

std::vector<std::string> labels_of(const std::vector<Series>& series) {
  std::vector<std::string> labels;
  for (const Series& s : series) labels.push_back(s.label);
  return labels;
}

// Scatter and line plots: x and y from the data (padded so that edge points
// are whole) unless fixed by the options.
AxesPlan numeric_axes(const std::vector<Series>& series, const PlotOptions& options) {
  AxesPlan plan;
  plan.x = axis_range(finite_range(series, true), options.x_min, options.x_max, 0.04);
  plan.y = axis_range(finite_range(series, false), options.y_min, options.y_max, 0.04);
  plan.integer_x = options.integer_x;
  return plan;
}

// ---- drawing ----

// Crisp 1-pixel lines: on the centre of a pixel.
double snap(double v) { return std::floor(v) + 0.5; }

void clip_to(cairo_t* cr, const Rect& area) {
  cairo_rectangle(cr, area.x, area.y, area.width, area.height);
  cairo_clip(cr);
}

void draw_grid(cairo_t* cr, const Frame& frame) {
  const Mapping& m = frame.mapping;
  set_color(cr, kGrid);
  cairo_set_line_width(cr, 1);
  if (!frame.categorical_x) {
    for (const double tick : m.x.ticks) {
      cairo_move_to(cr, snap(m.px(tick)), m.area.y);
      cairo_line_to(cr, snap(m.px(tick)), m.area.bottom());
    }
  }
  for (const double tick : m.y.ticks) {
    cairo_move_to(cr, m.area.x, snap(m.py(tick)));
    cairo_line_to(cr, m.area.right(), snap(m.py(tick)));
  }
  cairo_stroke(cr);
}

void draw_axes(cairo_t* cr, const Frame& frame) {
  const Mapping& m = frame.mapping;
  const double tick_length = kTickLength * frame.scale;
  set_color(cr, kFrame);
  cairo_set_line_width(cr, 1);
  cairo_rectangle(cr, m.area.x + 0.5, m.area.y + 0.5, m.area.width - 1, m.area.height - 1);
  for (const double tick : m.x.ticks) {
    cairo_move_to(cr, snap(m.px(tick)), m.area.bottom());
    cairo_line_to(cr, snap(m.px(tick)), m.area.bottom() + tick_length);
  }
  for (const double tick : m.y.ticks) {
    cairo_move_to(cr, m.area.x, snap(m.py(tick)));
    cairo_line_to(cr, m.area.x - tick_length, snap(m.py(tick)));
  }
  cairo_stroke(cr);
}


void draw_texts(cairo_t* cr, const Frame& frame) {
  for (const Text& text : frame.texts) {
    draw_text(cr, text.text, text.box, text.font_size, text.bold, text.vertical, kText);
  }
}

void set_line_style(cairo_t* cr, std::size_t index, double line_width) {
  set_color(cr, line_color(index));
  cairo_set_line_width(cr, line_width);
  std::vector<double> dashes = line_dashes(index);
  for (double& dash : dashes) dash *= line_width;
  cairo_set_dash(cr, dashes.data(), static_cast<int>(dashes.size()), 0);
}

void draw_legend(cairo_t* cr, const Frame& frame) {
  const Legend& legend = frame.legend;
  const Rect& box = legend.box;
  cairo_rectangle(cr, snap(box.x), snap(box.y), std::round(box.width), std::round(box.height));
  set_color(cr, kBackground);
  cairo_fill_preserve(cr);
  set_color(cr, kLegendBorder);
  cairo_set_line_width(cr, 1);
  cairo_stroke(cr);
  for (std::size_t i = 0; i < legend.entries.size(); ++i) {
    const Rect& marker = legend.entries[i].marker;
    switch (legend.marker) {
      case Marker::dot:
        set_color(cr, category_color(i));
        cairo_arc(cr, marker.x + marker.width / 2, marker.y + marker.height / 2, marker.width / 2, 0, 2 * kPi);
        cairo_fill(cr);
        break;
      case Marker::square:
        set_color(cr, category_color(i));
        cairo_rectangle(cr, marker.x, marker.y, marker.width, marker.height);
        cairo_fill(cr);
        break;
      case Marker::line:
        set_line_style(cr, i, kLineWidth * frame.scale);
        cairo_move_to(cr, marker.x, marker.y + marker.height / 2);
        cairo_line_to(cr, marker.right(), marker.y + marker.height / 2);
        cairo_stroke(cr);
        cairo_set_dash(cr, nullptr, 0, 0);
        break;
    }
    draw_text(cr, legend.entries[i].text, legend.entries[i].text_box, legend.font_size, false, false, kText);
  }
}


// Draws `frame` with `draw_data` into `file`. draw_data clips itself to the
// plot area: bar value labels may reach past it.
void write_plot(const fs::path& file, const Frame& frame, const std::function<void(cairo_t*)>& draw_data) {
  write_drawing(file, frame.width, frame.height, [&](cairo_t* cr) {
    draw_grid(cr, frame);
    cairo_save(cr);
    draw_data(cr);
    cairo_restore(cr);
    draw_axes(cr, frame);
    draw_texts(cr, frame);
    draw_legend(cr, frame);
  });
}

void draw_scatter(cairo_t* cr, const std::vector<Series>& classes, const PlotOptions& options, const Mapping& m) {
  std::vector<PointRef> order = drawing_order(classes);
  order.erase(std::remove_if(order.begin(), order.end(),
                             [&](const PointRef& p) {
                               return !std::isfinite(classes[p.series].x[p.index]) ||
                                      !std::isfinite(classes[p.series].y[p.index]);
                             }),
              order.end());
  const double diameter = options.point_size > 0 ? options.point_size : auto_dot_diameter(order.size(), m.area);
  const double alpha = options.point_alpha > 0 ? options.point_alpha : auto_dot_alpha(order.size());
  clip_to(cr, m.area);
  // The points go in layers of consecutive points of the drawing order; in a
  // layer each class is one path, filled at once: one fill per point would
  // take seconds for 70,000 points. Later layers cover earlier ones, so the
  // classes still interleave (dots of one class in one layer do not darken
  // each other where they overlap; dots of different layers do).
  const std::size_t layer_size = std::max<std::size_t>(1, order.size() / kScatterLayers);
  const std::size_t class_count = classes.size();
  for (std::size_t start = 0, layer = 0; start < order.size(); start += layer_size, ++layer) {
    const std::size_t end = std::min(order.size(), start + layer_size);
    for (std::size_t k = 0; k < class_count; ++k) {
      const std::size_t c = (k + layer) % class_count;  // no class always last in a layer
      bool any = false;
      for (std::size_t i = start; i < end; ++i) {
        if (order[i].series != c) continue;
        const Series& s = classes[c];
        cairo_new_sub_path(cr);
        cairo_arc(cr, m.px(s.x[order[i].index]), m.py(s.y[order[i].index]), diameter / 2, 0, 2 * kPi);
        any = true;
      }
      if (!any) continue;
      const Color color = category_color(c);
      set_color(cr, color, alpha);
      cairo_fill(cr);
    }
  }
}

// Each thumbnail centred on its point (kept inside the plot area), on white,
// framed in its class colour.
void draw_thumbnails(cairo_t* cr, const std::vector<Thumbnail>& thumbnails, double size, const Frame& frame) {
  const Mapping& m = frame.mapping;
  if (size <= 0) size = std::clamp(0.05 * std::min(m.area.width, m.area.height), 24.0, 96.0);
  const double border = std::max(2.0, 2.0 * frame.scale);
  clip_to(cr, m.area);
  for (const Thumbnail& thumbnail : thumbnails) {
    if (!std::isfinite(thumbnail.x) || !std::isfinite(thumbnail.y)) continue;
    const Picture& picture = thumbnail.picture;
    const double longer = std::max(picture.width, picture.height);
    const double w = size * picture.width / longer, h = size * picture.height / longer;
    // Inside the plot area when it fits (not std::clamp: the ends may cross when it does not).
    const double x = std::max(m.area.x + border, std::min(m.px(thumbnail.x) - w / 2, m.area.right() - border - w));
    const double y = std::max(m.area.y + border, std::min(m.py(thumbnail.y) - h / 2, m.area.bottom() - border - h));
    set_color(cr, category_color(thumbnail.series));
    cairo_rectangle(cr, x - border, y - border, w + 2 * border, h + 2 * border);
    cairo_fill(cr);
    draw_picture(cr, picture, Rect{x, y, w, h});
  }
}

void draw_lines(cairo_t* cr, const std::vector<Series>& curves, const Frame& frame) {
  const Mapping& m = frame.mapping;
  const double line_width = kLineWidth * frame.scale;
  clip_to(cr, m.area);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
  for (std::size_t i = 0; i < curves.size(); ++i) {
    const Series& curve = curves[i];
    set_line_style(cr, i, line_width);
    // A non-finite point breaks the line; a finite point between two breaks
    // (or alone) would draw nothing, so it gets a dot.
    std::vector<std::size_t> lone_points;
    std::size_t run = 0;  // finite points in the current piece
    for (std::size_t j = 0; j < curve.x.size(); ++j) {
      if (!std::isfinite(curve.x[j]) || !std::isfinite(curve.y[j])) {
        if (run == 1) lone_points.push_back(j - 1);
        run = 0;
        continue;
      }
      if (run++ == 0)
        cairo_move_to(cr, m.px(curve.x[j]), m.py(curve.y[j]));
      else
        cairo_line_to(cr, m.px(curve.x[j]), m.py(curve.y[j]));
    }
    if (run == 1) lone_points.push_back(curve.x.size() - 1);
    cairo_stroke(cr);
    for (const std::size_t j : lone_points) {
      cairo_arc(cr, m.px(curve.x[j]), m.py(curve.y[j]), 1.5 * line_width, 0, 2 * kPi);
      cairo_fill(cr);
    }
  }
}

// A bar's value label: above a positive bar (below a negative one) or, when
// there is no room outside and `may_go_inside`, inside it; upright when wider
// than the bar.
struct ValueLabel {
  std::string text;
  Rect box;
  bool upright = false, inside = false;
};

ValueLabel place_value_label(TextMeasure& measure, std::string text, const Rect& bar, bool negative, const Frame& frame,
                             bool may_go_inside) {
  const double size = kValueFont * frame.scale;
  const double gap = 0.3 * kPad * frame.scale;
  ValueLabel label;
  const double text_width = measure.width(text, size);
  const double text_height = measure.height(size);
  label.text = std::move(text);
  label.upright = text_width > bar.width + 2 * gap;
  const double along = label.upright ? text_width : text_height;  // extent along the bar
  const double across = label.upright ? text_height : text_width;
  const Rect& area = frame.mapping.area;
  const bool room_outside = negative ? bar.bottom() + gap + along <= area.bottom() : bar.y - gap - along >= area.y;
  label.inside = may_go_inside && !room_outside && bar.height >= along + 2 * gap;
  double y;
  if (negative)
    y = label.inside ? bar.bottom() - gap - along : bar.bottom() + gap;
  else
    y = label.inside ? bar.y + gap : bar.y - gap - along;
  label.box = {bar.x + (bar.width - across) / 2, y, across, along};
  return label;
}

// Every bar's value label, with the decimals that suit the largest value;
// a non-finite value gets "n/a" at the zero line.
std::vector<ValueLabel> value_labels(TextMeasure& measure, std::size_t value_count, const std::vector<BarGroup>& groups,
                                     const Frame& frame, bool may_go_inside) {
  double largest = 0;
  for (const BarGroup& group : groups) {
    for (const double value : group.values) {
      if (std::isfinite(value)) largest = std::max(largest, std::abs(value));
    }
  }
  const int decimals = value_decimals(largest);
  std::vector<ValueLabel> labels;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (std::size_t v = 0; v < value_count; ++v) {
      const double value = groups[g].values[v];
      const bool finite = std::isfinite(value);
      const Rect bar = bar_rect(frame.mapping, g, v, value_count, finite ? value : 0);
      labels.push_back(place_value_label(measure, finite ? value_label(value, decimals) : "n/a", bar,
                                         finite && value < 0, frame, may_go_inside));
    }
  }
  return labels;
}

void draw_bars(cairo_t* cr, const std::vector<std::string>& value_names, const std::vector<BarGroup>& groups,
               const Frame& frame) {
  const Mapping& m = frame.mapping;
  cairo_save(cr);
  clip_to(cr, m.area);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (std::size_t v = 0; v < value_names.size(); ++v) {
      const double value = groups[g].values[v];
      if (!std::isfinite(value)) continue;
      const Rect bar = bar_rect(m, g, v, value_names.size(), value);
      set_color(cr, category_color(v));
      cairo_rectangle(cr, bar.x, bar.y, bar.width, bar.height);
      cairo_fill(cr);
    }
  }
  // The zero line, when the axis crosses zero.
  if (m.y.lo < 0 && m.y.hi > 0) {
    set_color(cr, kFrame);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, m.area.x, snap(m.py(0)));
    cairo_line_to(cr, m.area.right(), snap(m.py(0)));
    cairo_stroke(cr);
  }
  cairo_restore(cr);
  // Value labels may reach past the plot area (on a fixed range), not past the image.
  TextMeasure measure;
  for (const ValueLabel& label : value_labels(measure, value_names.size(), groups, frame, true)) {
    draw_text(cr, label.text, label.box, kValueFont * frame.scale, false, label.upright, label.inside ? kOnBar : kText);
  }
}

}  // namespace

Frame scatter_frame(const std::vector<Series>& classes, const PlotOptions& options) {
  return layout(options, labels_of(classes), Marker::dot, numeric_axes(classes, options));
}

Frame line_frame(const std::vector<Series>& curves, const PlotOptions& options) {
  return layout(options, labels_of(curves), Marker::line, numeric_axes(curves, options));
}

Frame bar_frame(const std::vector<std::string>& value_names, const std::vector<BarGroup>& groups,
                const PlotOptions& options) {
  AxesPlan plan;
  for (const BarGroup& group : groups) plan.categories.push_back(group.label);
  // Bars start at 0.
  Range data{0, 0};
  for (const BarGroup& group : groups) {
    for (const double v : group.values) {
      if (!std::isfinite(v)) continue;
      data.lo = std::min(data.lo, v);
      data.hi = std::max(data.hi, v);
    }
  }
  plan.y = axis_range(data, options.y_min, options.y_max, 0);
  plan.widen_y_lo = std::isnan(options.y_min);
  plan.widen_y_hi = std::isnan(options.y_max);
  Frame frame = layout(options, value_names, Marker::square, plan);
  // Automatic ends grow until the value labels fit outside the bars (a few
  // rounds: the scale changes as the axis grows).
  TextMeasure measure;
  for (int round = 0; round < 4; ++round) {
    const Rect& area = frame.mapping.area;
    double over_top = 0, over_bottom = 0;
    for (const ValueLabel& label : value_labels(measure, value_names.size(), groups, frame, false)) {
      over_top = std::max(over_top, area.y - label.box.y);
      over_bottom = std::max(over_bottom, label.box.bottom() - area.bottom());
    }
    const bool grow_hi = over_top > 0 && plan.widen_y_hi, grow_lo = over_bottom > 0 && plan.widen_y_lo;
    if (!grow_hi && !grow_lo) break;
    const double units_per_pixel = (frame.mapping.y.hi - frame.mapping.y.lo) / area.height;
    const double margin = kPad * frame.scale;
    if (grow_hi) plan.y.hi = frame.mapping.y.hi + (over_top + margin) * units_per_pixel;
    if (grow_lo) plan.y.lo = frame.mapping.y.lo - (over_bottom + margin) * units_per_pixel;
    frame = layout(options, value_names, Marker::square, plan);
  }
  return frame;
}

}  // namespace detail

void write_scatter_plot(const std::vector<Series>& classes, const PlotOptions& options, const fs::path& file,
                        const std::vector<Thumbnail>& thumbnails, double thumbnail_size) {
  detail::file_format(file);
  detail::check_options(options, file);
  detail::check_series(classes, "scatter plot", file);
  for (const Thumbnail& thumbnail : thumbnails) detail::check_picture(thumbnail.picture, "a thumbnail", file);
  const detail::Frame frame = detail::scatter_frame(classes, options);
  detail::write_plot(file, frame, [&](cairo_t* cr) {
    detail::draw_scatter(cr, classes, options, frame.mapping);
    detail::draw_thumbnails(cr, thumbnails, thumbnail_size, frame);
  });
}

void write_line_plot(const std::vector<Series>& curves, const PlotOptions& options, const fs::path& file) {
  detail::file_format(file);
  detail::check_options(options, file);
  detail::check_series(curves, "line plot", file);
  const detail::Frame frame = detail::line_frame(curves, options);
  detail::write_plot(file, frame, [&](cairo_t* cr) { detail::draw_lines(cr, curves, frame); });
}

void write_bar_chart(const std::vector<std::string>& value_names, const std::vector<BarGroup>& groups,
                     const PlotOptions& options, const fs::path& file) {
  detail::file_format(file);
  detail::check_options(options, file);
  detail::check_bars(value_names, groups, file);
  const detail::Frame frame = detail::bar_frame(value_names, groups, options);
  detail::write_plot(file, frame, [&](cairo_t* cr) { detail::draw_bars(cr, value_names, groups, frame); });
}

}  // namespace imret::viz
