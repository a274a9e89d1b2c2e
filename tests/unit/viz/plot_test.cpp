// Plot geometry and input checks (no cairo needed), and what a build without
// cairo does. Drawing itself is tested in plot_cairo.cpp.
#include "imret/viz/plot.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "imret/core/error.hpp"
#include "imret/viz/plot_layout.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using namespace imret::viz;
using namespace imret::viz::detail;

namespace {
bool is_nice_step(double step) {
  const double mantissa = step / std::pow(10.0, std::floor(std::log10(step)));
  return std::abs(mantissa - 1) < 1e-9 || std::abs(mantissa - 2) < 1e-9 || std::abs(mantissa - 5) < 1e-9;
}

template <typename F>
std::string usage_error_of(F&& f) {
  try {
    f();
  } catch (const imret::UsageError& e) {
    return e.what();
  }
  return "(no UsageError)";
}
}  // namespace

TEST(PlotAxis, FixedUnitRangeGetsTenthsIncludingBothEnds) {
  const Axis axis = nice_axis(0, 1, 11, false, false);
  EXPECT_DOUBLE_EQ(axis.step, 0.1);
  ASSERT_EQ(axis.ticks.size(), 11u);
  EXPECT_DOUBLE_EQ(axis.ticks.front(), 0);
  EXPECT_NEAR(axis.ticks.back(), 1, 1e-12);
  EXPECT_EQ(axis.lo, 0);
  EXPECT_EQ(axis.hi, 1);
}

TEST(PlotAxis, WidenedAxisEndsOnTicksAroundTheData) {
  const Axis axis = nice_axis(-83, 91, 8, true, true);
  EXPECT_DOUBLE_EQ(axis.step, 50);  // 174 / 7 = 24.9 -> the next of 1-2-5 is 50
  EXPECT_DOUBLE_EQ(axis.lo, -100);
  EXPECT_DOUBLE_EQ(axis.hi, 100);
  EXPECT_EQ(axis.ticks, (std::vector<double>{-100, -50, 0, 50, 100}));
}

TEST(PlotAxis, TicksAreOneTwoFiveStepsInsideTheRangeForManyRanges) {
  for (const double lo : {-1234.5, -3.0, 0.0, 0.001, 17.0}) {
    for (const double span : {1e-3, 0.37, 1.0, 9.99, 640.0, 3e6}) {
      for (const int max_ticks : {2, 5, 11}) {
        for (const bool widen : {false, true}) {
          const Axis axis = nice_axis(lo, lo + span, max_ticks, widen, widen);
          SCOPED_TRACE(std::to_string(lo) + " + " + std::to_string(span) + ", " + std::to_string(max_ticks));
          EXPECT_TRUE(is_nice_step(axis.step)) << axis.step;
          EXPECT_LE(axis.lo, lo + span * 1e-9);
          EXPECT_GE(axis.hi, lo + span * (1 - 1e-9));
          // At least 2 ticks, even if that takes more than max_ticks on a short fixed range.
          ASSERT_GE(axis.ticks.size(), 2u);
          EXPECT_LE(axis.ticks.size(), std::max<std::size_t>(max_ticks + 1, 5));
          for (const double tick : axis.ticks) {
            EXPECT_GE(tick, axis.lo - axis.step * 1e-6);
            EXPECT_LE(tick, axis.hi + axis.step * 1e-6);
          }
          if (widen) {
            EXPECT_NEAR(axis.ticks.front(), axis.lo, axis.step * 1e-6);
            EXPECT_NEAR(axis.ticks.back(), axis.hi, axis.step * 1e-6);
          }
        }
      }
    }
  }
}

TEST(PlotAxis, SingleValueIsWidenedAroundIt) {
  const Axis axis = nice_axis(5, 5, 5, true, true);
  EXPECT_LT(axis.lo, 5);
  EXPECT_GT(axis.hi, 5);
  const Axis zero = nice_axis(0, 0, 5, false, false);
  EXPECT_LT(zero.lo, 0);
  EXPECT_GT(zero.hi, 0);
}

TEST(PlotAxis, AMinimumStepKeepsTicksOnWholeNumbers) {
  // Three epochs padded a little: without a minimum step the ticks fall between epochs.
  const Axis free = nice_axis(0.92, 3.08, 12, true, true);
  EXPECT_LT(free.step, 1);
  const Axis epochs = nice_axis(0.92, 3.08, 12, true, true, 1);
  EXPECT_EQ(epochs.step, 1);
  EXPECT_EQ(epochs.ticks, (std::vector<double>{0, 1, 2, 3, 4}));
  const Axis one_epoch = nice_axis(1, 1, 12, true, true, 1);  // a single epoch
  for (const double tick : one_epoch.ticks) EXPECT_EQ(tick, std::round(tick));
  EXPECT_LE(one_epoch.lo, 1);
  EXPECT_GE(one_epoch.hi, 1);
  const Axis many = nice_axis(1, 100, 6, true, true, 1);  // a larger step wins
  EXPECT_EQ(many.step, 20);
}

TEST(PlotAxis, AxisRangeUsesFixedEndsAndPadsTheData) {
  const Range padded = axis_range({0, 10}, NAN, NAN, 0.1);
  EXPECT_DOUBLE_EQ(padded.lo, -1);
  EXPECT_DOUBLE_EQ(padded.hi, 11);
  const Range fixed = axis_range({0.2, 0.7}, 0, 1, 0.1);
  EXPECT_EQ(fixed.lo, 0);
  EXPECT_EQ(fixed.hi, 1);
  const Range one_fixed = axis_range({0.2, 0.7}, 5, NAN, 0);  // fixed min above the data
  EXPECT_EQ(one_fixed.lo, 5);
  EXPECT_GT(one_fixed.hi, 5);
  const Range no_data = axis_range({NAN, NAN}, NAN, NAN, 0);
  EXPECT_EQ(no_data.lo, 0);
  EXPECT_EQ(no_data.hi, 1);
}

TEST(PlotAxis, FiniteRangeSkipsNonFiniteValues) {
  const std::vector<Series> series = {{"a", {1, NAN, -2}, {0, 0, 0}}, {"b", {INFINITY, 7}, {0, 0}}};
  const Range range = finite_range(series, true);
  EXPECT_EQ(range.lo, -2);
  EXPECT_EQ(range.hi, 7);
}

TEST(PlotLabels, TickLabelsHaveTheDecimalsOfTheStep) {
  const std::string minus = "\xe2\x88\x92";  // U+2212
  EXPECT_EQ(tick_label(0.2, 0.1), "0.2");
  EXPECT_EQ(tick_label(0.05, 0.05), "0.05");
  EXPECT_EQ(tick_label(-15, 5), minus + "15");
  EXPECT_EQ(tick_label(1500, 500), "1500");
  EXPECT_EQ(tick_label(-1e-17, 0.5), "0.0");  // no "-0.0" from rounding
  EXPECT_EQ(tick_label(2e6, 1e6), "2e+06");
}

TEST(PlotLabels, ValueLabelsShareTheDecimalsOfThreeSignificantDigitsOfTheLargest) {
  EXPECT_EQ(value_decimals(0.914), 3);
  EXPECT_EQ(value_decimals(45.67), 1);
  EXPECT_EQ(value_decimals(1234.4), 0);
  EXPECT_EQ(value_decimals(0), 0);
  EXPECT_EQ(value_label(0.91434, 3), "0.914");
  EXPECT_EQ(value_label(0.8, 3), "0.800");
  EXPECT_EQ(value_label(-0.5, 1),
            "\xe2\x88\x92"
            "0.5");
  EXPECT_EQ(value_label(1234.4, 0), "1234");
}

TEST(PlotLabels, InvalidUtf8IsReplacedValidUtf8Kept) {
  EXPECT_EQ(valid_utf8("T-shirt/top"), "T-shirt/top");
  EXPECT_EQ(valid_utf8("caf\xc3\xa9 \xe2\x88\x92 \xf0\x9f\x91\x95"), "caf\xc3\xa9 \xe2\x88\x92 \xf0\x9f\x91\x95");
  const std::string replacement = "\xef\xbf\xbd";
  EXPECT_EQ(valid_utf8("caf\xe9"), "caf" + replacement);                           // Latin-1
  EXPECT_EQ(valid_utf8("\xc0\xaf"), replacement + replacement);                    // overlong '/'
  EXPECT_EQ(valid_utf8("\xed\xa0\x80"), replacement + replacement + replacement);  // a surrogate
  EXPECT_EQ(valid_utf8("ab\xe2\x88"), "ab" + replacement + replacement);           // cut short
}

TEST(PlotMapping, AxisEndsMapToThePlotAreaEdgesWithYUp) {
  Mapping m;
  m.area = {100, 50, 400, 300};
  m.x = nice_axis(-1, 1, 5, false, false);
  m.y = nice_axis(0, 10, 5, false, false);
  EXPECT_DOUBLE_EQ(m.px(-1), 100);
  EXPECT_DOUBLE_EQ(m.px(1), 500);
  EXPECT_DOUBLE_EQ(m.px(0), 300);
  EXPECT_DOUBLE_EQ(m.py(0), 350);  // bottom
  EXPECT_DOUBLE_EQ(m.py(10), 50);  // top
}

TEST(PlotMapping, BarsOfAGroupSitSideBySideFromZero) {
  Mapping m;
  m.area = {0, 0, 300, 100};
  m.x = {-0.5, 2.5, 1, {0, 1, 2}};
  m.y = {0, 1, 0.5, {0, 0.5, 1}};
  const Rect first = bar_rect(m, 1, 0, 2, 0.5);
  const Rect second = bar_rect(m, 1, 1, 2, 1.0);
  EXPECT_DOUBLE_EQ(first.bottom(), 100);
  EXPECT_DOUBLE_EQ(first.height, 50);
  EXPECT_DOUBLE_EQ(second.height, 100);
  EXPECT_LT(first.right(), second.x);  // a gap between them
  EXPECT_GT(first.x, m.px(0.5));       // inside the group's slot
  EXPECT_LT(second.right(), m.px(1.5));
  EXPECT_NEAR((first.x + second.right()) / 2, m.px(1), 1e-9);  // centred on the group
}

TEST(PlotScatter, DrawingOrderIsAFixedPermutationThatInterleavesClasses) {
  std::vector<Series> series(3);
  for (auto& s : series) s.x.assign(1000, 0), s.y.assign(1000, 0);
  series[2].x.resize(10), series[2].y.resize(10);
  const auto order = drawing_order(series);
  ASSERT_EQ(order.size(), 2010u);
  std::set<std::pair<std::uint32_t, std::uint32_t>> seen;
  for (const auto& p : order) seen.insert({p.series, p.index});
  EXPECT_EQ(seen.size(), 2010u);
  // The first and the last tenth both hold many points of the two big classes.
  int first[3] = {}, last[3] = {};
  for (std::size_t i = 0; i < 201; ++i) ++first[order[i].series], ++last[order[order.size() - 1 - i].series];
  for (const int s : {0, 1}) {
    EXPECT_GT(first[s], 60);
    EXPECT_GT(last[s], 60);
  }
  const auto again = drawing_order(series);
  for (std::size_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i].index, again[i].index);
}

TEST(PlotScatter, MorePointsMeanSmallerMoreTransparentDots) {
  const Rect area{0, 0, 700, 600};
  EXPECT_GT(auto_dot_diameter(100, area), auto_dot_diameter(10000, area));
  EXPECT_GE(auto_dot_diameter(10000, area), auto_dot_diameter(70000, area));
  EXPECT_GE(auto_dot_diameter(70000, area), 2);
  EXPECT_GT(auto_dot_alpha(100), auto_dot_alpha(70000));
  EXPECT_GE(auto_dot_alpha(10000000), 0.3);
}

TEST(PlotChecks, FormatComesFromTheExtension) {
  EXPECT_EQ(file_format("a/b.png"), FileFormat::png);
  EXPECT_EQ(file_format("b.SVG"), FileFormat::svg);
  EXPECT_NE(usage_error_of([] { file_format("out/plot.jpg"); }).find("out/plot.jpg: unknown plot format \".jpg\""),
            std::string::npos);
  EXPECT_NE(usage_error_of([] { file_format("plot"); }).find("plot: unknown plot format (no extension)"),
            std::string::npos);
}

TEST(PlotChecks, BadInputIsAUsageErrorNamingTheFile) {
  const fs::path file = "p.png";
  EXPECT_NE(usage_error_of([&] { check_series({}, "scatter plot", file); }).find("p.png: scatter plot: no series"),
            std::string::npos);
  EXPECT_NE(usage_error_of([&] {
              check_series({{"Coat", {1, 2}, {1}}}, "line plot", file);
            }).find("p.png: line plot: series \"Coat\" has 2 x values but 1 y values"),
            std::string::npos);
  EXPECT_NE(usage_error_of([&] {
              check_bars({"mAP", "P@1"}, {{"run", {0.5}}}, file);
            }).find("p.png: bar chart: group \"run\" has 1 values for 2 value names"),
            std::string::npos);
  EXPECT_NE(usage_error_of([&] {
              check_bars({}, {{"run", {}}}, file);
            }).find("p.png: bar chart: no value names"),
            std::string::npos);
  PlotOptions options;
  options.x_min = 1;
  options.x_max = 1;
  EXPECT_NE(usage_error_of([&] { check_options(options, file); }).find("p.png: x range"), std::string::npos);
  options = PlotOptions{};
  options.width = 10;
  EXPECT_NE(usage_error_of([&] { check_options(options, file); }).find("p.png: plot size 10 x 800"), std::string::npos);
}

TEST(PlotBuild, HasPlotsExactlyWhenBuiltWithCairo) {
#ifdef IMRET_WITH_CAIRO
  EXPECT_TRUE(has_plots());
#else
  EXPECT_FALSE(has_plots());
  const fs::path file = imret::testing::scratch_path("viz_test", "no_cairo/plot.png");
  const std::string message = usage_error_of([&] { write_scatter_plot({{"a", {1}, {1}}}, PlotOptions{}, file); });
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
  EXPECT_NE(message.find("no cairo"), std::string::npos) << message;
  EXPECT_THROW(write_line_plot({{"a", {1}, {1}}}, PlotOptions{}, file), imret::UsageError);
  EXPECT_THROW(write_bar_chart({"mAP"}, {{"run", {0.5}}}, PlotOptions{}, file), imret::UsageError);
  EXPECT_FALSE(fs::exists(file));
#endif
}
