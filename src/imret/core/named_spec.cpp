#include "imret/core/named_spec.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "imret/core/error.hpp"

namespace imret {

NamedSpec parse_named_spec(const std::string& text, const std::string& option,
                           const std::map<std::string, double>& defaults) {
  NamedSpec spec;
  const size_t colon = text.find(':');
  spec.name = text.substr(0, colon);
  spec.values = defaults;
  if (colon == std::string::npos) return spec;
  const std::string rest = text.substr(colon + 1);
  size_t start = 0;
  while (start <= rest.size()) {
    const size_t comma = std::min(rest.find(',', start), rest.size());
    const std::string item = rest.substr(start, comma - start);
    const size_t equals = item.find('=');
    if (equals == std::string::npos || equals == 0)
      throw UsageError(option + " '" + text + "': settings are key=number, joined by ','");
    const std::string key = item.substr(0, equals), value_text = item.substr(equals + 1);
    if (!defaults.count(key)) {
      std::string valid;
      for (const auto& entry : defaults) valid += (valid.empty() ? "" : ", ") + entry.first;
      throw UsageError(option + " '" + text + "': unknown setting '" + key + "'" +
                       (valid.empty() ? std::string(" (" + spec.name + " takes none)") : " (valid: " + valid + ")"));
    }
    char* end = nullptr;
    errno = 0;
    const double value = std::strtod(value_text.c_str(), &end);
    if (value_text.empty() || end != value_text.c_str() + value_text.size() || errno != 0 || !std::isfinite(value))
      throw UsageError(option + " '" + text + "': " + key + " must be a number, got '" + value_text + "'");
    spec.values[key] = value;
    start = comma + 1;
  }
  return spec;
}

std::string spec_number(double value) {
  char text[40];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(text, sizeof text, "%.*g", digits, value);
    if (std::strtod(text, nullptr) == value) break;
  }
  return text;
}

}  // namespace imret
