#include "imret/search/search_params.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "imret/core/error.hpp"

namespace imret::search {

SearchParams::SearchParams(std::initializer_list<Entry> entries) {
  for (const auto& [name, value] : entries) set(name, value);
}

void SearchParams::set(const std::string& name, double value) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.first == name; });
  if (it != entries_.end()) it->second = value;
  else entries_.emplace_back(name, value);
}

std::optional<double> SearchParams::get(const std::string& name) const {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.first == name; });
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

std::string SearchParams::to_string() const {
  std::string text;
  for (const auto& [name, value] : entries_) {
    char number[32];
    std::snprintf(number, sizeof(number), "%g", value);
    text += (text.empty() ? "" : ",") + name + "=" + number;
  }
  return text;
}

SearchParams::Entry parse_search_parameter(const std::string& text) {
  const size_t eq = text.find('=');
  try {
    if (eq == std::string::npos || eq == 0) throw std::invalid_argument(text);
    size_t used = 0;
    const double value = std::stod(text.substr(eq + 1), &used);
    if (used != text.size() - eq - 1 || std::isnan(value)) throw std::invalid_argument(text);
    return {text.substr(0, eq), value};
  } catch (const std::exception&) {
    throw UsageError("search parameter '" + text + "': expected name=number, e.g. nprobe=16");
  }
}

SearchParams parse_search_parameters(const std::string& text) {
  SearchParams params;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    try {
      const auto [name, value] = parse_search_parameter(text.substr(start, comma - start));
      params.set(name, value);
    } catch (const UsageError&) {
      throw UsageError("search parameters '" + text + "': expected name=number[,name=number], e.g. nprobe=16");
    }
    start = comma + 1;
  }
  return params;
}

void check_search_params(const std::string& index, const SearchParams& params, const std::vector<std::string>& valid,
                         const std::vector<std::string>& saved_only) {
  auto has = [](const std::vector<std::string>& names, const std::string& name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  for (const auto& [name, value] : params.entries()) {
    if (has(valid, name)) continue;
    if (is_build_parameter(name))
      throw UsageError(index + ": " + name + " is a build-time parameter; a search cannot take it");
    if (has(saved_only, name))
      throw UsageError(index + ": " + name + " can only be the index's saved parameter, not a search's (FAISS 1.7.3 "
                       "reads it from the index itself)");
    std::string names;
    for (const auto& v : valid) names += (names.empty() ? "" : ", ") + v;
    throw UsageError(index + " has no query-time parameter '" + name + "' (" +
                     (names.empty() ? std::string("it takes none") : "valid: " + names) + ")");
  }
}

bool is_build_parameter(const std::string& name) { return name == "efConstruction"; }

SplitParams split_build_parameters(const SearchParams& params) {
  SplitParams split;
  for (const auto& [name, value] : params.entries()) (is_build_parameter(name) ? split.build : split.query).set(name, value);
  return split;
}

}  // namespace imret::search
