#pragma once
// A setting of a request that cannot be used, named as the library spells
// it ("format", "tsne_method", "relevance", ...), with what is wrong with it.
// The message is the setting followed by the problem ("format gif: expected
// png or svg"); a front end that calls the setting otherwise (the command
// line's --format) shows its own name in its place: `problem()` is the rest.
#include <string>

#include "imret/core/error.hpp"

namespace imret {

class SettingError : public UsageError {
 public:
  // `problem` follows the setting's name as it stands: " gif: expected png or
  // svg", " must be >= 0".
  SettingError(std::string setting, std::string problem)
      : UsageError(setting + problem), setting_(std::move(setting)), problem_(std::move(problem)) {}

  const std::string& setting() const { return setting_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string setting_;
  std::string problem_;
};

}  // namespace imret
