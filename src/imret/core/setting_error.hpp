#pragma once
// A setting of a request that cannot be used, named as the library spells
// it ("format", "tsne_method", "relevance", ...), with what is wrong with it.
// The message is the setting followed by the problem ("format gif: expected
// png or svg"). The problem may name other settings through `mention`
// ("needs " + mention("weights") + " to start from"). A front end that calls
// settings otherwise (the command line's --format, --weights) renders the
// message with its own names: `message(name_of)`; what() uses the library's.
#include <functional>
#include <string>

#include "imret/core/error.hpp"

namespace imret {

class SettingError : public UsageError {
 public:
  using Namer = std::function<std::string(const std::string& setting)>;

  // `problem` follows the setting's name as it stands: " gif: expected png or
  // svg", " must be >= 0".
  SettingError(std::string setting, std::string problem);

  // Another setting named inside a problem, for `message` to rename.
  static std::string mention(const std::string& setting);

  const std::string& setting() const { return setting_; }
  // The message with every setting (this one and the mentioned ones) named by `name_of`.
  std::string message(const Namer& name_of) const;

 private:
  std::string setting_;
  std::string problem_;
};

}  // namespace imret
