#include "imret/cli/setting_options.hpp"

#include <algorithm>
#include <map>

#include "imret/core/setting_error.hpp"

namespace imret::cli {

std::string option_of(const std::string& setting) {
  static const std::map<std::string, std::string> renamed = {
      {"spec", "--index"},  // index build, search, compare-search
  };
  const auto it = renamed.find(setting);
  if (it != renamed.end()) return it->second;
  std::string option = "--" + setting;
  std::replace(option.begin(), option.end(), '_', '-');
  return option;
}

void with_options(const std::map<std::string, std::string>& options, const std::function<void()>& job) {
  try {
    job();
  } catch (const SettingError& e) {
    throw UsageError(e.message([&](const std::string& setting) {
      const auto it = options.find(setting);
      return it == options.end() ? option_of(setting) : it->second;
    }));
  }
}

}  // namespace imret::cli
