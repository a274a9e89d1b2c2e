// Plots drawn with cairo: the PNGs are read back with cairo and checked pixel
// by pixel where the layout says a point, a curve, a bar or a text must be.
#include <cairo.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <ctime>
#include <random>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/viz/plot.hpp"
#include "imret/viz/plot_layout.hpp"
#include "imret/viz/plot_style.hpp"
#include "support/errors.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using namespace imret::viz;
using namespace imret::viz::detail;

namespace {
fs::path scratch(const std::string& name) { return imret::testing::scratch_path("viz_test", name); }

struct Rgb {
  int r, g, b;
};

Rgb to_rgb(Color c) {
  return {static_cast<int>(std::lround(c.r * 255)), static_cast<int>(std::lround(c.g * 255)),
          static_cast<int>(std::lround(c.b * 255))};
}

bool near(Rgb a, Rgb b, int tolerance = 2) {
  return std::abs(a.r - b.r) <= tolerance && std::abs(a.g - b.g) <= tolerance && std::abs(a.b - b.b) <= tolerance;
}

std::ostream& operator<<(std::ostream& out, Rgb c) { return out << "rgb(" << c.r << "," << c.g << "," << c.b << ")"; }

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
  // The pixel that covers the point (x, y). The plots are opaque, so the
  // (premultiplied) ARGB32 / RGB24 words hold plain colours.
  Rgb at(double x, double y) const {
    const auto col = static_cast<int>(std::floor(x)), row = static_cast<int>(std::floor(y));
    const unsigned char* data = cairo_image_surface_get_data(surface_);
    const auto word =
        reinterpret_cast<const std::uint32_t*>(data + row * cairo_image_surface_get_stride(surface_))[col];
    return {static_cast<int>((word >> 16) & 0xff), static_cast<int>((word >> 8) & 0xff), static_cast<int>(word & 0xff)};
  }
  // Pixels in `box` at most `tolerance` away from `color`.
  int count(const Rect& box, Rgb color, int tolerance) const {
    int n = 0;
    for (int y = static_cast<int>(box.y); y < static_cast<int>(std::ceil(box.bottom())); ++y) {
      for (int x = static_cast<int>(box.x); x < static_cast<int>(std::ceil(box.right())); ++x) {
        n += near(at(x, y), color, tolerance);
      }
    }
    return n;
  }

 private:
  cairo_surface_t* surface_;
};

// The middle between the two ticks around `v`: away from any grid line.
double between_ticks(const Axis& axis, double v) {
  for (std::size_t i = 0; i + 1 < axis.ticks.size(); ++i) {
    if (axis.ticks[i] <= v && v < axis.ticks[i + 1]) return (axis.ticks[i] + axis.ticks[i + 1]) / 2;
  }
  ADD_FAILURE() << v << " is not between two ticks";
  return v;
}

using imret::testing::error_of;

// Gaussian blobs around a circle, like a 2-D embedding of Fashion-MNIST.
std::vector<Series> blobs(const std::vector<std::string>& names, int per_class) {
  std::mt19937 random(7);
  std::normal_distribution<double> noise(0, 6);
  std::vector<Series> classes;
  for (std::size_t c = 0; c < names.size(); ++c) {
    const double angle = 2 * M_PI * static_cast<double>(c) / static_cast<double>(names.size());
    Series s{names[c], {}, {}};
    for (int i = 0; i < per_class; ++i) {
      s.x.push_back(40 * std::cos(angle) + noise(random) * (1 + 0.1 * static_cast<double>(c % 3)));
      s.y.push_back(30 * std::sin(angle) + noise(random));
    }
    classes.push_back(std::move(s));
  }
  return classes;
}

const std::vector<std::string> kFashionMnist = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}  // namespace

TEST(PlotCairo, ScatterDotsLandWhereTheMappingPutsThemInTheirClassColour) {
  const std::vector<Series> classes = {{"a", {0, 1}, {0, 1}}, {"b", {0, NAN}, {1, 5}}, {"c", {1, 0.5}, {0, 0.5}}};
  PlotOptions options;
  options.title = "Known points";
  options.point_size = 24;
  options.point_alpha = 1;
  const fs::path file = scratch("scatter_known.png");
  write_scatter_plot(classes, options, file);

  const Png png(file);
  ASSERT_EQ(png.width(), 1000);
  ASSERT_EQ(png.height(), 800);
  const Frame frame = scatter_frame(classes, options);
  const Mapping& m = frame.mapping;
  EXPECT_LT(m.py(1), m.py(0));  // y up
  for (std::size_t s = 0; s < classes.size(); ++s) {
    for (std::size_t i = 0; i < classes[s].x.size(); ++i) {
      if (!std::isfinite(classes[s].x[i])) continue;
      const double x = m.px(classes[s].x[i]), y = m.py(classes[s].y[i]);
      SCOPED_TRACE(classes[s].label + " point " + std::to_string(i));
      EXPECT_GT(x, m.area.x + 12);  // padded: the whole dot is inside
      EXPECT_LT(y, m.area.bottom() - 12);
      EXPECT_TRUE(near(png.at(x, y), to_rgb(category_color(s)))) << png.at(x, y);
      // 8 pixels off the centre is still the dot (diameter 24).
      EXPECT_TRUE(near(png.at(x + 8, y - 5), to_rgb(category_color(s)))) << png.at(x + 8, y - 5);
    }
  }
  // Far from every point and between grid lines: background.
  const double empty_x = m.px(between_ticks(m.x, 0.25)), empty_y = m.py(between_ticks(m.y, 0.75));
  EXPECT_TRUE(near(png.at(empty_x, empty_y), to_rgb(kBackground), 0)) << png.at(empty_x, empty_y);
  // The legend shows each class in its colour.
  ASSERT_EQ(frame.legend.entries.size(), 3u);
  for (std::size_t s = 0; s < 3; ++s) {
    const Rect& marker = frame.legend.entries[s].marker;
    EXPECT_TRUE(near(png.at(marker.x + marker.width / 2, marker.y + marker.height / 2), to_rgb(category_color(s))));
  }
}

TEST(PlotCairo, AutomaticDotsAreSemiTransparentClassColours) {
  // Points off the ticks: no grid line under the dots' centres.
  const std::vector<Series> classes = {{"a", {0.13, 0.87}, {0.13, 0.87}}, {"b", {0.52}, {0.33}}};
  const fs::path file = scratch("scatter_auto.png");
  write_scatter_plot(classes, PlotOptions{}, file);
  const Png png(file);
  const Mapping m = scatter_frame(classes, PlotOptions{}).mapping;
  const double alpha = auto_dot_alpha(3);
  for (std::size_t s = 0; s < 2; ++s) {
    const Color c = category_color(s);
    const Color blended{alpha * c.r + (1 - alpha), alpha * c.g + (1 - alpha), alpha * c.b + (1 - alpha)};
    for (const double tick : m.x.ticks) ASSERT_GT(std::abs(m.px(tick) - m.px(classes[s].x[0])), 2);
    for (const double tick : m.y.ticks) ASSERT_GT(std::abs(m.py(tick) - m.py(classes[s].y[0])), 2);
    const Rgb pixel = png.at(m.px(classes[s].x[0]), m.py(classes[s].y[0]));
    EXPECT_TRUE(near(pixel, to_rgb(blended))) << pixel << " vs " << to_rgb(blended);
  }
}

TEST(PlotCairo, LinePlotDrawsAHorizontalLineAlongItsRowAndBreaksAtNaN) {
  const std::vector<Series> curves = {{"flat", {0, 1}, {0.5, 0.5}},
                                      {"broken", {0, 0.4, 0.5, 0.6, 1}, {0.25, 0.25, NAN, 0.25, 0.25}}};
  PlotOptions options;
  options.x_min = options.y_min = 0;
  options.x_max = options.y_max = 1;
  const fs::path file = scratch("line_flat.png");
  write_line_plot(curves, options, file);

  const Png png(file);
  const Frame frame = line_frame(curves, options);
  const Mapping& m = frame.mapping;
  EXPECT_EQ(m.x.lo, 0);
  EXPECT_EQ(m.y.hi, 1);
  const Rgb flat = to_rgb(line_color(0)), broken = to_rgb(line_color(1));
  const double row = m.py(0.5);
  int on_line = 0, columns = 0;
  for (double x = m.area.x + 2; x < m.area.right() - 2; ++x, ++columns) on_line += near(png.at(x, row), flat);
  EXPECT_EQ(on_line, columns);
  // 10 pixels above the line: not the line.
  EXPECT_FALSE(near(png.at(m.px(0.3), row - 10), flat));
  // The broken curve: drawn at x = 0.2 and 0.8, a gap at 0.5.
  EXPECT_TRUE(near(png.at(m.px(0.2), m.py(0.25)), broken)) << png.at(m.px(0.2), m.py(0.25));
  EXPECT_TRUE(near(png.at(m.px(0.8), m.py(0.25)), broken));
  EXPECT_FALSE(near(png.at(m.px(0.5), m.py(0.25)), broken, 40)) << png.at(m.px(0.5), m.py(0.25));
  // The legend line of each curve in its colour.
  for (std::size_t i = 0; i < 2; ++i) {
    const Rect& marker = frame.legend.entries[i].marker;
    EXPECT_TRUE(near(png.at(marker.x + marker.width / 2, marker.y + marker.height / 2), to_rgb(line_color(i))));
  }
}

TEST(PlotCairo, BarChartDrawsEachBarInItsValueColourWithHeightsFromZero) {
  const std::vector<std::string> metrics = {"mAP", "P@1", "mAP@R"};
  const std::vector<BarGroup> groups = {{"baseline", {0.5, 0.8, NAN}}, {"ours", {0.25, 1.0, 0.4}}};
  PlotOptions options;
  options.title = "Metrics";
  const fs::path file = scratch("bars.png");
  write_bar_chart(metrics, groups, options, file);

  const Png png(file);
  const Frame frame = bar_frame(metrics, groups, options);
  const Mapping& m = frame.mapping;
  EXPECT_EQ(m.y.lo, 0);
  EXPECT_GE(m.y.hi, 1.0);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (std::size_t v = 0; v < metrics.size(); ++v) {
      SCOPED_TRACE(groups[g].label + " " + metrics[v]);
      const double value = groups[g].values[v];
      const Rect bar = bar_rect(m, g, v, metrics.size(), std::isfinite(value) ? value : 0.3);
      const Rgb middle = png.at(bar.x + bar.width / 2, bar.y + bar.height / 2);
      if (std::isfinite(value)) {
        EXPECT_NEAR(bar.bottom(), m.py(0), 1e-9);
        EXPECT_TRUE(near(middle, to_rgb(category_color(v)))) << middle;
        // Just above the bar's top corner: no bar.
        EXPECT_FALSE(near(png.at(bar.x + 1, bar.y - 2), to_rgb(category_color(v)), 30));
      } else {  // NaN: no bar (labelled n/a)
        EXPECT_FALSE(near(middle, to_rgb(category_color(v)), 30)) << middle;
      }
    }
  }
  // Bar heights are proportional to the values.
  EXPECT_NEAR(bar_rect(m, 0, 0, 3, 0.5).height, 2 * bar_rect(m, 1, 0, 3, 0.25).height, 1e-6);
  // The legend: one square per metric in its colour.
  ASSERT_EQ(frame.legend.entries.size(), 3u);
  for (std::size_t v = 0; v < 3; ++v) {
    const Rect& marker = frame.legend.entries[v].marker;
    EXPECT_TRUE(near(png.at(marker.x + marker.width / 2, marker.y + marker.height / 2), to_rgb(category_color(v))));
  }
}

TEST(PlotCairo, TextsNeitherOverlapNorLeaveTheImage) {
  const std::vector<Series> classes = blobs(kFashionMnist, 10);
  std::vector<Series> many = blobs(std::vector<std::string>(28, "a rather long class name"), 2);
  for (const auto& [width, height] : {std::pair{1000, 800}, std::pair{400, 300}, std::pair{1600, 500}}) {
    PlotOptions options;
    options.width = width;
    options.height = height;
    options.title = "t-SNE of the test embeddings, coloured by class, with a long title that may not fit";
    options.x_label = "t-SNE 1";
    options.y_label = "t-SNE 2";
    const std::vector<BarGroup> groups = {{"contrastive, margin 0.5, 20 epochs", {0.71, 0.8}},
                                          {"triplet, semi-hard mining", {0.75, 0.86}},
                                          {"proxy anchor", {0.8, 0.9}}};
    for (const Frame& frame : {scatter_frame(classes, options), scatter_frame(many, options),
                               line_frame(classes, options), bar_frame({"mAP", "P@1"}, groups, options)}) {
      SCOPED_TRACE(std::to_string(width) + " x " + std::to_string(height));
      const Rect image{0, 0, double(width), double(height)};
      std::vector<Rect> boxes = {frame.mapping.area, frame.legend.box};
      for (const Text& text : frame.texts) {
        EXPECT_TRUE(image.contains(text.box)) << text.text;
        for (const Rect& other : boxes) EXPECT_FALSE(text.box.intersects(other)) << text.text;
        boxes.push_back(text.box);
      }
      EXPECT_TRUE(image.contains(frame.legend.box));
      EXPECT_FALSE(frame.legend.box.intersects(frame.mapping.area));
      EXPECT_GT(frame.legend.box.x, frame.mapping.area.right());
      EXPECT_GT(frame.mapping.area.width, 0.35 * width);
      for (const LegendEntry& entry : frame.legend.entries) {
        EXPECT_TRUE(frame.legend.box.contains(entry.text_box)) << entry.text;
        EXPECT_TRUE(frame.legend.box.contains(entry.marker)) << entry.text;
        EXPECT_FALSE(entry.marker.intersects(entry.text_box)) << entry.text;
      }
    }
  }
}

TEST(PlotCairo, TextIsDrawnWhereTheLayoutPutsIt) {
  const std::vector<Series> classes = blobs({"Trouser", "Bag"}, 50);
  PlotOptions options;
  options.title = "Embeddings";
  options.x_label = "dimension 1";
  options.y_label = "dimension 2";
  const fs::path file = scratch("text.png");
  write_scatter_plot(classes, options, file);
  const Png png(file);
  const Frame frame = scatter_frame(classes, options);
  const Rgb ink = to_rgb(kText);
  int titles = 0, axis_labels = 0;
  for (const Text& text : frame.texts) {
    // Glyphs are drawn in the box: a fair share of its pixels are (nearly) text colour.
    EXPECT_GT(png.count(text.box, ink, 60), text.box.width * text.box.height * 0.04) << text.text;
    titles += text.role == TextRole::title;
    axis_labels += text.role == TextRole::axis_label;
  }
  EXPECT_EQ(titles, 1);
  EXPECT_EQ(axis_labels, 2);
  for (const LegendEntry& entry : frame.legend.entries) {
    EXPECT_GT(png.count(entry.text_box, ink, 60), entry.text_box.width * entry.text_box.height * 0.04) << entry.text;
  }
  // No ink left of the title, on its row.
  const Rect title = frame.texts.front().box;
  EXPECT_EQ(png.count({0, title.y, title.x - 2, title.height}, ink, 60), 0);
}

TEST(PlotCairo, LabelsThatAreNotUtf8StillDraw) {
  PlotOptions options;
  options.title = "caf\xe9";  // Latin-1, as a file name may be
  const std::vector<Series> classes = {{"na\xefve", {0, 1}, {0, 1}}};
  const fs::path file = scratch("latin1.png");
  write_scatter_plot(classes, options, file);
  EXPECT_EQ(Png(file).width(), 1000);
  EXPECT_EQ(scatter_frame(classes, options).legend.entries[0].text, "na\xef\xbf\xbdve");
}

TEST(PlotCairo, SvgIsAnSvgDocumentOfThePlotSizeWithItsTextAsGlyphs) {
  const std::vector<Series> curves = {{"contrastive", {0, 0.5, 1}, {1, 0.7, 0.2}}, {"triplet", {0, 1}, {1, 0.4}}};
  PlotOptions options;
  options.title = "Precision-recall";
  options.x_label = "recall";
  options.y_label = "precision";
  options.width = 640;
  options.height = 480;
  const fs::path file = scratch("curves.SVG");
  write_line_plot(curves, options, file);
  const std::string svg = imret::read_file(file);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("viewBox=\"0 0 640 480\""), std::string::npos) << svg.substr(0, 400);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  // Cairo 1.16 writes text as glyph outlines (<symbol id="glyph...">, placed by
  // <use>), not <text>: count the placed glyphs instead of searching the words.
  std::size_t glyphs = 0;
  for (std::size_t at = svg.find("xlink:href=\"#glyph"); at != std::string::npos;
       at = svg.find("xlink:href=\"#glyph", at + 1)) {
    ++glyphs;
  }
  std::size_t letters = 0;
  for (const std::string& text : {options.title, options.x_label, options.y_label, curves[0].label, curves[1].label}) {
    for (const char c : text) letters += c != ' ';
  }
  EXPECT_GE(glyphs, letters);
}

TEST(PlotCairo, BadInputIsAClearErrorAndLeavesNoFile) {
  const fs::path folder = scratch("errors/x").parent_path();
  const std::vector<Series> one = {{"a", {1}, {1}}};
  const auto expect_error = [&](const fs::path& file, const std::string& expected, auto&& write) {
    const std::string message = error_of(write);
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_EQ(imret::testing::count_entries(folder), 0) << message;
  };
  const fs::path jpg = folder / "plot.jpg";
  expect_error(jpg, "unknown plot format", [&] { write_scatter_plot(one, PlotOptions{}, jpg); });
  const fs::path png = folder / "plot.png";
  expect_error(png, "no series", [&] { write_scatter_plot({}, PlotOptions{}, png); });
  expect_error(png, "no series", [&] { write_line_plot({}, PlotOptions{}, png); });
  expect_error(png, "has 2 x values but 1 y values", [&] {
    write_line_plot({{"a", {1, 2}, {1}}}, PlotOptions{}, png);
  });
  expect_error(png, "no groups", [&] { write_bar_chart({"mAP"}, {}, PlotOptions{}, png); });
  expect_error(png, "has 2 values for 1 value names", [&] {
    write_bar_chart({"mAP"}, {{"run", {0.1, 0.2}}}, PlotOptions{}, png);
  });
  // A folder that cannot exist (its parent is a file): nothing is written.
  const fs::path blocker = scratch("errors_blocker/file");
  imret::write_file_atomic(blocker, "not a folder");
  const fs::path impossible = blocker / "plot.png";
  const std::string message = error_of([&] { write_scatter_plot(one, PlotOptions{}, impossible); });
  EXPECT_NE(message.find(impossible.string() + ": cannot write the plot: "), std::string::npos) << message;
  EXPECT_EQ(imret::testing::count_entries(blocker.parent_path()), 1);
}

TEST(PlotCairo, MissingFoldersAreCreatedAndAnOldPlotIsReplacedWhole) {
  const fs::path file = scratch("new/folder/plot.png");
  fs::remove_all(file.parent_path());
  write_scatter_plot({{"a", {1, 2}, {1, 2}}}, PlotOptions{}, file);
  EXPECT_EQ(Png(file).width(), 1000);
  PlotOptions smaller;
  smaller.width = 300;
  smaller.height = 200;
  write_scatter_plot({{"a", {1, 2}, {1, 2}}}, smaller, file);
  EXPECT_EQ(Png(file).width(), 300);
  EXPECT_EQ(imret::testing::count_entries(file.parent_path()), 1);  // no temporary file left
}

// The realistic examples of docs/plots.md (copied from the scratch folder this
// prints); the 70,000-point scatter plot must draw in well under a second.
TEST(PlotCairo, RealisticExamplesDrawQuickly) {
  const std::vector<Series> classes = blobs(kFashionMnist, 7000);
  PlotOptions scatter;
  scatter.title = "10 synthetic classes (Gaussian blobs), 70,000 points";
  scatter.x_label = "t-SNE 1";
  scatter.y_label = "t-SNE 2";
  const fs::path scatter_file = scratch("examples/scatter.png");
  // CPU time, not wall time: a loaded machine must not fail the test.
  const std::clock_t start = std::clock();
  write_scatter_plot(classes, scatter, scatter_file);
  const double seconds = static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
  std::printf("70,000-point scatter plot: %.3f s of CPU time\n", seconds);
  EXPECT_LT(seconds, 1.0);

  std::vector<Series> curves;
  for (const auto& [name, quality] : {std::pair{"contrastive (mAP 0.62)", 0.55}, std::pair{"triplet (mAP 0.71)", 0.7},
                                      std::pair{"proxy anchor (mAP 0.80)", 0.85}}) {
    Series curve{name, {}, {}};
    for (int i = 0; i <= 100; ++i) {
      const double recall = i / 100.0;
      curve.x.push_back(recall);
      curve.y.push_back(std::max(0.1, 1 - (1 - quality) * std::pow(recall, 1 + 2 * quality) - 0.05 * recall));
    }
    curves.push_back(std::move(curve));
  }
  PlotOptions pr;
  pr.title = "Precision-recall (synthetic curves)";
  pr.x_label = "recall";
  pr.y_label = "precision";
  pr.x_min = pr.y_min = 0;
  pr.x_max = pr.y_max = 1;
  write_line_plot(curves, pr, scratch("examples/pr.png"));

  PlotOptions bars;
  bars.title = "Retrieval metrics by experiment";
  bars.y_label = "score";
  bars.y_min = 0;
  bars.y_max = 1;
  write_bar_chart(
      {"mAP", "P@1", "mAP@R"},
      {{"contrastive", {0.62, 0.81, 0.52}}, {"triplet", {0.71, 0.85, 0.6}}, {"proxy anchor", {0.8, 0.89, 0.69}}}, bars,
      scratch("examples/bars.png"));
  for (const char* name : {"scatter.png", "pr.png", "bars.png"}) {
    EXPECT_EQ(Png(scratch(std::string("examples/") + name)).width(), 1000);
  }
  std::printf("examples in %s\n", scatter_file.parent_path().c_str());
}

// --- Pictures: image grids and thumbnails -----------------------------------

namespace {

// A w x h picture of one colour.
Picture solid(int w, int h, Rgb c) {
  Picture p{w, h, 3, {}};
  for (int i = 0; i < w * h; ++i) {
    p.pixels.push_back(static_cast<std::uint8_t>(c.r));
    p.pixels.push_back(static_cast<std::uint8_t>(c.g));
    p.pixels.push_back(static_cast<std::uint8_t>(c.b));
  }
  return p;
}

// A 2 x 2 grey picture: black, white / white, black.
Picture checker() { return Picture{2, 2, 1, {0, 255, 255, 0}}; }

const Rgb kBlue{30, 60, 200}, kYellow{240, 200, 20};

std::vector<GridRow> example_grid() {
  GridRow first;
  first.label = {"query 12", "Coat", "AP 0.500"};
  first.cells.push_back(GridCell{solid(28, 28, kBlue), {"query", "Coat"}, Verdict::none});
  first.cells.push_back(GridCell{solid(28, 28, kYellow), {"#1  cos 0.912", "Coat"}, Verdict::correct});
  first.cells.push_back(GridCell{checker(), {"#2  cos 0.800", "Shirt"}, Verdict::wrong});
  GridRow second;
  second.label = {"query 3"};
  second.cells.push_back(GridCell{solid(40, 20, kBlue), {"query"}, Verdict::none});  // wide: letterboxed
  return {first, second};
}

}  // namespace

TEST(PlotCairo, ImageGridFramesCorrectGreenAndWrongRedAndDrawsEachPictureInItsBox) {
  const fs::path file = scratch("grid.png");
  const std::vector<GridRow> rows = example_grid();
  GridOptions options;
  options.title = "Random queries";
  write_image_grid(rows, options, file);
  const GridLayout layout = grid_layout(rows, options);
  const Png png(file);
  ASSERT_EQ(png.width(), layout.width);
  ASSERT_EQ(png.height(), layout.height);
  const auto& cells = layout.cells;
  ASSERT_EQ(cells.size(), 2u);
  ASSERT_EQ(cells[0].size(), 3u);
  const double f = layout.frame_width;
  const auto frame_pixel = [&](const Rect& box) { return png.at(box.x - f / 2, box.y + box.height / 2); };
  const auto centre = [&](const Rect& box) { return png.at(box.x + box.width / 2, box.y + box.height / 2); };
  // The query has no frame; results are framed by their verdict.
  EXPECT_TRUE(near(frame_pixel(cells[0][0]), to_rgb(kBackground))) << frame_pixel(cells[0][0]);
  EXPECT_TRUE(near(frame_pixel(cells[0][1]), to_rgb(kCorrect))) << frame_pixel(cells[0][1]);
  EXPECT_TRUE(near(frame_pixel(cells[0][2]), to_rgb(kWrong))) << frame_pixel(cells[0][2]);
  EXPECT_TRUE(near(centre(cells[0][0]), kBlue)) << centre(cells[0][0]);
  EXPECT_TRUE(near(centre(cells[0][1]), kYellow)) << centre(cells[0][1]);
  // The whole box is the picture (square pictures fill it).
  EXPECT_EQ(png.count(cells[0][1], kYellow, 2), static_cast<int>(cells[0][1].width * cells[0][1].height));
  // Enlarged pixels stay sharp: each quarter of the checker is one flat grey.
  const Rect& c = cells[0][2];
  const double q = c.width / 4;
  EXPECT_TRUE(near(png.at(c.x + q, c.y + q), {0, 0, 0}, 0));
  EXPECT_TRUE(near(png.at(c.x + 3 * q, c.y + q), {255, 255, 255}, 0));
  EXPECT_TRUE(near(png.at(c.x + q, c.y + 3 * q), {255, 255, 255}, 0));
  EXPECT_TRUE(near(png.at(c.x + 3 * q, c.y + 3 * q), {0, 0, 0}, 0));
  // A 2:1 picture is letterboxed: blue across the middle, background above and below.
  const Rect& wide = cells[1][0];
  const Rect fitted = fit_picture(40, 20, wide);
  EXPECT_DOUBLE_EQ(fitted.width, wide.width);
  EXPECT_DOUBLE_EQ(fitted.height, wide.height / 2);
  EXPECT_TRUE(near(centre(wide), kBlue));
  EXPECT_TRUE(near(png.at(wide.x + wide.width / 2, wide.y + 2), to_rgb(kBackground)));
  EXPECT_TRUE(near(png.at(wide.x + wide.width / 2, wide.bottom() - 2), to_rgb(kBackground)));
}

TEST(PlotCairo, ImageGridTextsStayInsideTheImageAndOffThePictures) {
  std::vector<GridRow> rows = example_grid();
  rows[0].label[0] = "query 12 with a label far too long to fit at the left of its row";
  rows[0].cells[1].caption[1] = "a caption far too long for the width of one cell";
  GridOptions options;
  options.title = "Worst queries by average precision";
  const GridLayout layout = grid_layout(rows, options);
  const Rect image{0, 0, static_cast<double>(layout.width), static_cast<double>(layout.height)};
  for (std::size_t i = 0; i < layout.texts.size(); ++i) {
    const Text& text = layout.texts[i];
    EXPECT_TRUE(image.contains(text.box)) << text.text;
    for (std::size_t j = i + 1; j < layout.texts.size(); ++j) {
      EXPECT_FALSE(text.box.intersects(layout.texts[j].box)) << text.text << " / " << layout.texts[j].text;
    }
    for (const auto& row : layout.cells) {
      for (const Rect& cell : row) {
        const Rect framed{cell.x - layout.frame_width, cell.y - layout.frame_width, cell.width + 2 * layout.frame_width,
                          cell.height + 2 * layout.frame_width};
        EXPECT_FALSE(text.box.intersects(framed)) << text.text;
      }
    }
  }
  // Long texts were cut short with an ellipsis.
  bool cut = false;
  for (const Text& text : layout.texts) cut |= text.text.find("\xe2\x80\xa6") != std::string::npos;
  EXPECT_TRUE(cut);
}

TEST(PlotCairo, ImageGridBadInputIsAClearErrorAndWritesNothing) {
  const fs::path file = scratch("bad-grid.png");
  fs::remove(file);
  EXPECT_NE(error_of([&] { write_image_grid({}, {}, file); }).find("at least one row"), std::string::npos);
  std::vector<GridRow> rows = example_grid();
  rows[1].cells.clear();
  EXPECT_NE(error_of([&] { write_image_grid(rows, {}, file); }).find("row 2 of the image grid has no cells"),
            std::string::npos);
  rows = example_grid();
  rows[0].cells[2].picture.pixels.pop_back();
  EXPECT_NE(error_of([&] { write_image_grid(rows, {}, file); }).find("row 1, cell 3 has 3 bytes of pixels, not 4"),
            std::string::npos);
  rows = example_grid();
  rows[0].cells[0].picture.channels = 2;
  EXPECT_NE(error_of([&] { write_image_grid(rows, {}, file); }).find("has 2 channels"), std::string::npos);
  GridOptions tiny;
  tiny.cell_size = 8;
  EXPECT_NE(error_of([&] { write_image_grid(example_grid(), tiny, file); }).find("cell size 8"), std::string::npos);
  EXPECT_FALSE(fs::exists(file));
}

TEST(PlotCairo, ThumbnailsSitOnTheirPointsFramedInTheirClassColour) {
  const fs::path file = scratch("thumbnails.png");
  const std::vector<Series> classes = {{"a", {0, 10}, {0, 10}}, {"b", {5}, {5}}};
  PlotOptions options;
  options.x_min = options.y_min = -2;
  options.x_max = options.y_max = 12;
  const std::vector<Thumbnail> thumbnails = {{5, 5, 1, solid(28, 28, kBlue)}, {0, 10, 0, solid(28, 14, kYellow)}};
  write_scatter_plot(classes, options, file, thumbnails, 40);
  const Frame frame = scatter_frame(classes, options);
  const Png png(file);
  const Mapping& m = frame.mapping;
  // The picture is centred on its point; the frame just outside it has the class colour.
  EXPECT_TRUE(near(png.at(m.px(5), m.py(5)), kBlue)) << png.at(m.px(5), m.py(5));
  EXPECT_TRUE(near(png.at(m.px(5) + 19, m.py(5) - 19), kBlue));
  EXPECT_TRUE(near(png.at(m.px(5) + 21, m.py(5)), to_rgb(category_color(1)))) << png.at(m.px(5) + 21, m.py(5));
  EXPECT_TRUE(near(png.at(m.px(0), m.py(10)), kYellow));
  // 28 x 14 at 40 px: 40 x 20, so 15 px above the point is the frame's colour or beyond it, not yellow.
  EXPECT_FALSE(near(png.at(m.px(0), m.py(10) - 15), kYellow));
  // A bad picture is refused.
  std::vector<Thumbnail> bad = thumbnails;
  bad[0].picture.width = 0;
  EXPECT_NE(error_of([&] { write_scatter_plot(classes, options, scratch("bad-thumbs.png"), bad); }).find("a thumbnail is empty"),
            std::string::npos);
}
