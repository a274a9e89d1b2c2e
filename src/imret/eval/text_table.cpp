#include "imret/eval/text_table.hpp"

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <sstream>

namespace imret::eval {

std::string aligned_table(const TextCells& cells) {
  if (cells.empty()) return "";
  std::vector<size_t> widths(cells.front().size(), 0);
  for (const auto& row : cells)
    for (size_t c = 0; c < row.size() && c < widths.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  std::ostringstream out;
  for (const auto& row : cells) {
    out << "  " << std::left << std::setw(static_cast<int>(widths[0])) << row[0];
    for (size_t c = 1; c < row.size(); ++c) out << "  " << std::right << std::setw(static_cast<int>(widths[c])) << row[c];
    out << "\n";
  }
  return out.str();
}

std::string markdown_table(const TextCells& cells) {
  std::ostringstream out;
  for (size_t r = 0; r < cells.size(); ++r) {
    out << "|";
    for (const auto& cell : cells[r]) out << " " << cell << " |";
    out << "\n";
    if (r == 0) {
      out << "|---|";
      for (size_t c = 1; c < cells[r].size(); ++c) out << "---:|";
      out << "\n";
    }
  }
  return out.str();
}

std::string signed_change(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%+.3f", value);
  return std::string(text) == "-0.000" ? "+0.000" : text;
}

}  // namespace imret::eval
