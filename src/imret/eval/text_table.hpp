#pragma once
// Tables of text cells, as the terminal and GitHub markdown show them: row 0
// is the header, the first column is left-aligned names, the others numbers.
#include <string>
#include <vector>

namespace imret::eval {

using TextCells = std::vector<std::vector<std::string>>;

// Columns padded to their widest cell, two spaces apart, each line indented by two.
std::string aligned_table(const TextCells& cells);
// | a | b |, a separator row after the header (numbers right-aligned).
std::string markdown_table(const TextCells& cells);

// A change written with its sign and 3 decimals ("+0.016", "-0.003"; never "-0.000").
std::string signed_change(double value);

}  // namespace imret::eval
