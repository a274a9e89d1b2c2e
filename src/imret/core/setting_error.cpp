#include "imret/core/setting_error.hpp"

namespace imret {

namespace {

// Brackets around a mentioned setting: control characters that no setting
// value or path a person types contains.
constexpr char kOpen = '\x01';
constexpr char kClose = '\x02';

std::string render(const std::string& setting, const std::string& problem, const SettingError::Namer& name_of) {
  std::string text = name_of(setting);
  for (std::size_t at = 0; at < problem.size();) {
    const std::size_t open = problem.find(kOpen, at);
    const std::size_t close = open == std::string::npos ? open : problem.find(kClose, open);
    if (close == std::string::npos) {
      text += problem.substr(at);
      break;
    }
    text += problem.substr(at, open - at);
    text += name_of(problem.substr(open + 1, close - open - 1));
    at = close + 1;
  }
  return text;
}

std::string as_is(const std::string& setting) { return setting; }

}  // namespace

SettingError::SettingError(std::string setting, std::string problem)
    : UsageError(render(setting, problem, as_is)), setting_(std::move(setting)), problem_(std::move(problem)) {}

std::string SettingError::mention(const std::string& setting) { return kOpen + setting + kClose; }

std::string SettingError::message(const Namer& name_of) const { return render(setting_, problem_, name_of); }

}  // namespace imret
