#include "imret/viz/plot_layout.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <random>

#include "imret/core/error.hpp"

namespace imret::viz::detail {
namespace fs = std::filesystem;

bool Rect::intersects(const Rect& other) const {
  return x < other.right() && other.x < right() && y < other.bottom() && other.y < bottom();
}

bool Rect::contains(const Rect& other) const {
  return other.x >= x && other.y >= y && other.right() <= right() && other.bottom() <= bottom();
}

namespace {
// The smallest of 1, 2, 5 x 10^k that is at least `raw`.
double nice_step(double raw) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double factor : {1.0, 2.0, 5.0}) {
    if (factor * magnitude >= raw * (1 - 1e-9)) return factor * magnitude;
  }
  return 10 * magnitude;
}

// The next smaller of 1, 2, 5 x 10^k.
double smaller_nice_step(double step) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(step) + 1e-9));
  const double mantissa = step / magnitude;
  return mantissa > 4 ? 2 * magnitude : mantissa > 1.5 ? magnitude : magnitude / 2;
}
}  // namespace

Axis nice_axis(double lo, double hi, int max_ticks, bool widen_lo, bool widen_hi, double min_step) {
  if (!(hi > lo)) {
    const double half = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= half;
    hi += half;
  }
  Axis axis;
  axis.step = std::max(min_step, nice_step((hi - lo) / std::max(1, max_ticks - 1)));
  // Tolerances so that a bound already on a tick (up to rounding) stays there.
  constexpr double eps = 1e-9;
  while (true) {
    axis.lo = widen_lo ? std::floor(lo / axis.step + eps) * axis.step : lo;
    axis.hi = widen_hi ? std::ceil(hi / axis.step - eps) * axis.step : hi;
    const auto first = static_cast<long long>(std::ceil(axis.lo / axis.step - eps));
    const auto last = static_cast<long long>(std::floor(axis.hi / axis.step + eps));
    // A fixed range may hold fewer than 2 multiples of the step: take a smaller one.
    if (last - first >= 1) {
      for (long long k = first; k <= last; ++k) axis.ticks.push_back(static_cast<double>(k) * axis.step);
      return axis;
    }
    axis.step = smaller_nice_step(axis.step);
  }
}

namespace {
// A typographic minus (U+2212) instead of the hyphen printf puts before negative numbers.
std::string with_minus_sign(const char* text) {
  return text[0] == '-' ? "\xe2\x88\x92" + std::string(text + 1) : std::string(text);
}
}  // namespace

std::string tick_label(double value, double step) {
  if (std::abs(value) < step * 1e-6) value = 0;  // no "-0" from rounding
  char text[64];
  const double largest = std::max(std::abs(value), step);
  if (largest >= 1e6 || step < 1e-4) {
    std::snprintf(text, sizeof text, "%.3g", value);
  } else {
    const int decimals = std::max(0, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
    std::snprintf(text, sizeof text, "%.*f", decimals, value);
  }
  return with_minus_sign(text);
}

int value_decimals(double largest) {
  if (!(largest > 0) || !std::isfinite(largest)) return 0;
  return std::clamp(2 - static_cast<int>(std::floor(std::log10(largest))), 0, 6);
}

std::string value_label(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return with_minus_sign(text);
}

std::string valid_utf8(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80           ? 1
                               : (lead >> 5) == 0x6  ? 2
                               : (lead >> 4) == 0xe  ? 3
                               : (lead >> 3) == 0x1e ? 4
                                                     : 0;
    bool valid = length > 0 && i + length <= text.size();
    char32_t code = length == 1 ? lead : lead & (0x7f >> length);
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xc0) == 0x80;
      code = (code << 6) | (next & 0x3f);
    }
    // No overlong forms, surrogates or code points past U+10FFFF.
    static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    valid = valid && code >= kSmallest[length] && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    if (valid) {
      out.append(text, i, length);
      i += length;
    } else {
      out += "\xef\xbf\xbd";  // U+FFFD
      ++i;
    }
  }
  return out;
}

double Mapping::px(double data_x) const { return area.x + (data_x - x.lo) / (x.hi - x.lo) * area.width; }

double Mapping::py(double data_y) const { return area.bottom() - (data_y - y.lo) / (y.hi - y.lo) * area.height; }

Range finite_range(const std::vector<Series>& series, bool x) {
  Range range{NAN, NAN};
  for (const Series& s : series) {
    for (const double v : x ? s.x : s.y) {
      if (!std::isfinite(v)) continue;
      if (!(v >= range.lo)) range.lo = v;  // also replaces the initial NaN
      if (!(v <= range.hi)) range.hi = v;
    }
  }
  return range;
}

Range axis_range(Range data, double fixed_lo, double fixed_hi, double padding) {
  if (std::isnan(data.lo)) data = {0, 1};
  const double span = data.hi - data.lo;
  Range range{data.lo - padding * span, data.hi + padding * span};
  if (!std::isnan(fixed_lo)) range.lo = fixed_lo;
  if (!std::isnan(fixed_hi)) range.hi = fixed_hi;
  // One fixed end beyond all the data: show one unit past it. (lo == hi with
  // no fixed end is left to nice_axis, which widens around the value.)
  const bool fixed = !std::isnan(fixed_lo) || !std::isnan(fixed_hi);
  if (fixed && !(range.hi > range.lo)) {
    if (std::isnan(fixed_hi))
      range.hi = range.lo + std::max(1.0, std::abs(range.lo));
    else
      range.lo = range.hi - std::max(1.0, std::abs(range.hi));
  }
  return range;
}

FileFormat file_format(const fs::path& file) {
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".png") return FileFormat::png;
  if (extension == ".svg") return FileFormat::svg;
  throw UsageError(file.string() + ": unknown plot format " +
                   (extension.empty() ? std::string("(no extension)") : "\"" + extension + "\"") +
                   ": name the file .png or .svg");
}

void check_picture(const Picture& picture, const std::string& what, const fs::path& file) {
  const auto fail = [&](const std::string& why) { throw UsageError(file.string() + ": " + what + " " + why); };
  if (picture.width <= 0 || picture.height <= 0) fail("is empty");
  if (picture.width > 10000 || picture.height > 10000) fail("is larger than 10000 x 10000 pixels");
  if (picture.channels != 1 && picture.channels != 3) {
    fail("has " + std::to_string(picture.channels) + " channels (1 or 3 expected)");
  }
  const auto expected = static_cast<std::size_t>(picture.width) * picture.height * picture.channels;
  if (picture.pixels.size() != expected) {
    fail("has " + std::to_string(picture.pixels.size()) + " bytes of pixels, not " + std::to_string(expected) + " (" +
         std::to_string(picture.width) + " x " + std::to_string(picture.height) + " x " +
         std::to_string(picture.channels) + ")");
  }
}

void check_options(const PlotOptions& options, const fs::path& file) {
  const auto fail = [&](const std::string& why) { throw UsageError(file.string() + ": " + why); };
  if (options.width < 200 || options.height < 150 || options.width > 10000 || options.height > 10000) {
    fail("plot size " + std::to_string(options.width) + " x " + std::to_string(options.height) +
         " is out of range (200 x 150 to 10000 x 10000)");
  }
  const auto check_range = [&](double lo, double hi, const char* axis) {
    if (std::isinf(lo) || std::isinf(hi)) fail(std::string(axis) + " range is infinite");
    if (!std::isnan(lo) && !std::isnan(hi) && !(lo < hi)) {
      fail(std::string(axis) + " range [" + std::to_string(lo) + ", " + std::to_string(hi) + "] is empty");
    }
  };
  check_range(options.x_min, options.x_max, "x");
  check_range(options.y_min, options.y_max, "y");
  if (!(options.point_size >= 0 && options.point_size <= 1000)) fail("point size must be in [0, 1000]");
  if (!(options.point_alpha >= 0 && options.point_alpha <= 1)) fail("point alpha must be in [0, 1]");
}

void check_series(const std::vector<Series>& series, const char* plot, const fs::path& file) {
  if (series.empty()) throw UsageError(file.string() + ": " + plot + ": no series to draw");
  for (const Series& s : series) {
    if (s.x.size() != s.y.size()) {
      throw UsageError(file.string() + ": " + plot + ": series \"" + s.label + "\" has " + std::to_string(s.x.size()) +
                       " x values but " + std::to_string(s.y.size()) + " y values");
    }
  }
}

void check_bars(const std::vector<std::string>& value_names, const std::vector<BarGroup>& groups,
                const fs::path& file) {
  if (value_names.empty()) throw UsageError(file.string() + ": bar chart: no value names");
  if (groups.empty()) throw UsageError(file.string() + ": bar chart: no groups to draw");
  for (const BarGroup& group : groups) {
    if (group.values.size() != value_names.size()) {
      throw UsageError(file.string() + ": bar chart: group \"" + group.label + "\" has " +
                       std::to_string(group.values.size()) + " values for " + std::to_string(value_names.size()) +
                       " value names");
    }
  }
}

std::vector<PointRef> drawing_order(const std::vector<Series>& series) {
  std::vector<PointRef> order;
  for (std::size_t s = 0; s < series.size(); ++s) {
    for (std::size_t i = 0; i < series[s].x.size(); ++i) {
      order.push_back({static_cast<std::uint32_t>(s), static_cast<std::uint32_t>(i)});
    }
  }
  // Fisher-Yates with mt19937, whose output the standard fixes: the same order
  // on every platform (std::shuffle's is up to the library).
  std::mt19937 random(20240601);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random() % i]);
  return order;
}

double auto_dot_diameter(std::size_t points, const Rect& area) {
  const double spacing = std::sqrt(area.width * area.height / std::max<std::size_t>(points, 1));
  return std::clamp(0.9 * spacing, 2.2, 12.0);
}

double auto_dot_alpha(std::size_t points) {
  return std::clamp(1.25 - 0.18 * std::log10(std::max<std::size_t>(points, 1)), 0.3, 0.9);
}

Rect bar_rect(const Mapping& mapping, std::size_t group, std::size_t value, std::size_t value_count, double v) {
  // A group fills 80% of its slot; bars keep a small gap between them.
  const double slot = 0.8 / static_cast<double>(value_count);
  const double left = static_cast<double>(group) - 0.4 + slot * static_cast<double>(value);
  const double x0 = mapping.px(left + 0.04 * slot);
  const double x1 = mapping.px(left + 0.96 * slot);
  const double base = std::clamp(0.0, mapping.y.lo, mapping.y.hi);
  const double top = mapping.py(std::clamp(std::max(v, base), mapping.y.lo, mapping.y.hi));
  const double bottom = mapping.py(std::clamp(std::min(v, base), mapping.y.lo, mapping.y.hi));
  return {x0, top, x1 - x0, bottom - top};
}

Rect fit_picture(int w, int h, const Rect& box) {
  const double scale = std::min(box.width / w, box.height / h);
  const double width = w * scale, height = h * scale;
  return Rect{box.x + (box.width - width) / 2, box.y + (box.height - height) / 2, width, height};
}

}  // namespace imret::viz::detail
