#pragma once
// Internal to the plotting module: colours, fonts and sizes of every plot.
#include <array>
#include <cstddef>
#include <vector>

namespace imret::viz::detail {

struct Color {
  double r, g, b;  // 0..1
};

constexpr Color rgb(unsigned hex) {
  return {((hex >> 16) & 0xff) / 255.0, ((hex >> 8) & 0xff) / 255.0, (hex & 0xff) / 255.0};
}

// Categorical palette: Tableau 10 (the most distinct hues first), then the
// light tints of Tableau 20, then dark shades of Tableau 20b; beyond 30
// classes colours repeat.
inline constexpr std::array<Color, 30> kPalette = {
    rgb(0x1f77b4), rgb(0xff7f0e), rgb(0x2ca02c), rgb(0xd62728), rgb(0x9467bd), rgb(0x8c564b),
    rgb(0xe377c2), rgb(0x7f7f7f), rgb(0xbcbd22), rgb(0x17becf), rgb(0xaec7e8), rgb(0xffbb78),
    rgb(0x98df8a), rgb(0xff9896), rgb(0xc5b0d5), rgb(0xc49c94), rgb(0xf7b6d2), rgb(0xc7c7c7),
    rgb(0xdbdb8d), rgb(0x9edae5), rgb(0x393b79), rgb(0x637939), rgb(0x8c6d31), rgb(0x843c39),
    rgb(0x7b4173), rgb(0x5254a3), rgb(0x8ca252), rgb(0xbd9e39), rgb(0xad494a), rgb(0xa55194)};

// Colour of scatter class / bar value `index`.
inline Color category_color(std::size_t index) { return kPalette[index % kPalette.size()]; }

// Line plots: the light tints are too faint for thin lines on white, so curves
// take the 10 strong colours and, past 10 curves, a different dash pattern.
inline constexpr std::size_t kLineColors = 10;
inline Color line_color(std::size_t index) { return kPalette[index % kLineColors]; }
// Dash lengths in multiples of the line width; empty = solid.
inline std::vector<double> line_dashes(std::size_t index) {
  switch ((index / kLineColors) % 4) {
    case 0:
      return {};
    case 1:
      return {4, 2};
    case 2:
      return {1, 1.5};
    default:
      return {4, 1.5, 1, 1.5};
  }
}

inline constexpr Color kBackground = rgb(0xffffff);
inline constexpr Color kText = rgb(0x222222);
inline constexpr Color kFrame = rgb(0x777777);
inline constexpr Color kGrid = rgb(0xe3e3e3);
inline constexpr Color kLegendBorder = rgb(0xcccccc);
inline constexpr Color kOnBar = rgb(0xffffff);  // value labels drawn inside a bar

// Retrieval grids: the frames of correct and wrong results.
inline constexpr Color kCorrect = rgb(0x2ca02c);
inline constexpr Color kWrong = rgb(0xd62728);

inline constexpr const char* kFont = "DejaVu Sans";

// Sizes in pixels for a 1000 x 800 plot; scaled with the plot (see plot_scale).
inline constexpr double kTitleFont = 19;
inline constexpr double kLabelFont = 16;
inline constexpr double kTickFont = 14;
inline constexpr double kLegendFont = 14;
inline constexpr double kValueFont = 12.5;
inline constexpr double kPad = 10;
inline constexpr double kTickLength = 5;
inline constexpr double kLineWidth = 2;

}  // namespace imret::viz::detail
