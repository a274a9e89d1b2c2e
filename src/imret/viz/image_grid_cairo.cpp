// Image grids (retrieval results) drawn with cairo.
#include <algorithm>
#include <cmath>

#include "imret/core/error.hpp"
#include "imret/viz/cairo_canvas.hpp"
#include "imret/viz/plot.hpp"
#include "imret/viz/plot_layout.hpp"
#include "imret/viz/plot_style.hpp"

namespace imret::viz {
namespace fs = std::filesystem;

namespace detail {
namespace {

constexpr std::size_t kMaxCaptionLines = 3;
constexpr std::size_t kMaxLabelLines = 4;

void check_grid(const std::vector<GridRow>& rows, const GridOptions& options, const fs::path& file) {
  const auto fail = [&](const std::string& why) { throw UsageError(file.string() + ": " + why); };
  if (rows.empty()) fail("an image grid needs at least one row");
  if (options.cell_size < 16 || options.cell_size > 1024) {
    fail("cell size " + std::to_string(options.cell_size) + " is out of range (16 to 1024)");
  }
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].cells.empty()) fail("row " + std::to_string(r + 1) + " of the image grid has no cells");
    for (std::size_t c = 0; c < rows[r].cells.size(); ++c) {
      check_picture(rows[r].cells[c].picture,
                    "the picture of row " + std::to_string(r + 1) + ", cell " + std::to_string(c + 1), file);
    }
  }
}

}  // namespace

GridLayout grid_layout(const std::vector<GridRow>& rows, const GridOptions& options) {
  TextMeasure measure;
  const double cell = options.cell_size;
  const double caption_font = std::clamp(cell * 0.105, 10.0, 16.0);
  const double label_font = caption_font * 1.1;
  const double title_font = std::max(16.0, label_font * 1.4);
  // Whole pixels everywhere: pictures and frames fall on the pixel grid.
  const double pad = std::round(std::max(8.0, cell * 0.1));
  GridLayout layout;
  layout.frame_width = std::round(std::max(3.0, cell * 0.035));
  const double caption_line = std::ceil(1.2 * measure.height(caption_font));
  const double label_line = std::ceil(1.2 * measure.height(label_font));

  std::size_t caption_lines = 0, label_lines = 0, widest_row = 0;
  double label_width = 0;
  for (const GridRow& row : rows) {
    widest_row = std::max(widest_row, row.cells.size());
    label_lines = std::max(label_lines, std::min(row.label.size(), kMaxLabelLines));
    for (std::size_t i = 0; i < std::min(row.label.size(), kMaxLabelLines); ++i) {
      label_width = std::max(label_width, measure.width(valid_utf8(row.label[i]), label_font));
    }
    for (const GridCell& c : row.cells) caption_lines = std::max(caption_lines, std::min(c.caption.size(), kMaxCaptionLines));
  }
  label_width = std::min(label_width, 1.6 * cell);  // long labels are cut short
  const double label_column = label_lines > 0 ? std::ceil(label_width + pad) : 0;
  const double step_x = cell + 2 * layout.frame_width + pad;
  const double row_height = std::max(cell + 2 * layout.frame_width + static_cast<double>(caption_lines) * caption_line,
                                     static_cast<double>(label_lines) * label_line) +
                            pad;
  double top = pad;
  if (!options.title.empty()) {
    const double max_width = std::max(200.0, pad + label_column + static_cast<double>(widest_row) * step_x);
    const std::string title = measure.fit(valid_utf8(options.title), max_width - 2 * pad, title_font, true);
    layout.texts.push_back(Text{title, Rect{pad, top, measure.width(title, title_font, true), measure.height(title_font)},
                                title_font, true, false, TextRole::title});
    top += std::ceil(measure.height(title_font)) + pad;
  }
  double right = 0;
  for (const GridRow& row : rows) {
    for (std::size_t i = 0; i < std::min(row.label.size(), kMaxLabelLines); ++i) {
      const std::string text = measure.fit(valid_utf8(row.label[i]), label_width, label_font);
      layout.texts.push_back(Text{text,
                                  Rect{pad, top + layout.frame_width + static_cast<double>(i) * label_line,
                                       measure.width(text, label_font), measure.height(label_font)},
                                  label_font, i == 0, false, TextRole::axis_label});
    }
    std::vector<Rect> boxes;
    for (std::size_t c = 0; c < row.cells.size(); ++c) {
      const Rect box{pad + label_column + static_cast<double>(c) * step_x + layout.frame_width,
                     top + layout.frame_width, cell, cell};
      boxes.push_back(box);
      right = std::max(right, box.right() + layout.frame_width);
      const std::vector<std::string>& caption = row.cells[c].caption;
      for (std::size_t i = 0; i < std::min(caption.size(), kMaxCaptionLines); ++i) {
        const std::string text = measure.fit(valid_utf8(caption[i]), cell + 2 * layout.frame_width, caption_font);
        const double width = measure.width(text, caption_font);
        layout.texts.push_back(Text{text,
                                    Rect{box.x + (cell - width) / 2,
                                         box.bottom() + layout.frame_width + static_cast<double>(i) * caption_line,
                                         width, measure.height(caption_font)},
                                    caption_font, false, false, TextRole::tick_label});
      }
    }
    layout.cells.push_back(std::move(boxes));
    top += row_height;
  }
  double text_right = 0;
  for (const Text& text : layout.texts) text_right = std::max(text_right, text.box.right());
  layout.width = static_cast<int>(std::ceil(std::max(right, text_right) + pad));
  layout.height = static_cast<int>(std::ceil(top));
  return layout;
}

}  // namespace detail

void write_image_grid(const std::vector<GridRow>& rows, const GridOptions& options, const fs::path& file) {
  detail::file_format(file);
  detail::check_grid(rows, options, file);
  const detail::GridLayout layout = detail::grid_layout(rows, options);
  detail::write_drawing(file, layout.width, layout.height, [&](cairo_t* cr) {
    for (std::size_t r = 0; r < rows.size(); ++r) {
      for (std::size_t c = 0; c < rows[r].cells.size(); ++c) {
        const GridCell& cell = rows[r].cells[c];
        const detail::Rect& box = layout.cells[r][c];
        if (cell.verdict != Verdict::none) {
          const double f = layout.frame_width;
          detail::set_color(cr, cell.verdict == Verdict::correct ? detail::kCorrect : detail::kWrong);
          cairo_rectangle(cr, box.x - f, box.y - f, box.width + 2 * f, box.height + 2 * f);
          cairo_fill(cr);
          detail::set_color(cr, detail::kBackground);
          cairo_rectangle(cr, box.x, box.y, box.width, box.height);
          cairo_fill(cr);
        }
        detail::draw_picture(cr, cell.picture, detail::fit_picture(cell.picture.width, cell.picture.height, box));
      }
    }
    for (const detail::Text& text : layout.texts) {
      detail::draw_text(cr, text.text, text.box, text.font_size, text.bold, false, detail::kText);
    }
  });
}

}  // namespace imret::viz
