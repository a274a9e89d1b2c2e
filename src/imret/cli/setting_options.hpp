#pragma once
// The command line's name for a setting the library names in a
// SettingError (core/setting_error.hpp).
#include <functional>
#include <map>
#include <string>

namespace imret::cli {

// "tsne_method" -> "--tsne-method"; settings whose option is spelled
// otherwise are listed in the .cpp.
std::string option_of(const std::string& setting);

// Runs `job`; a SettingError comes out as a UsageError that names its
// settings as options: those a command spells its own way from `options`
// (setting -> option), the others by option_of. Other errors pass unchanged.
void with_options(const std::map<std::string, std::string>& options, const std::function<void()>& job);

}  // namespace imret::cli
