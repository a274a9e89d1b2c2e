#include "imret/data/preprocess_defaults.hpp"

#include <string>

#include "imret/core/setting_error.hpp"

namespace imret::data {

Preprocess PreprocessChoice::resolve(int64_t channels) const {
  Preprocess p;
  const bool colour = channels == 3;
  p.resize = resize >= 0 ? resize : (colour ? 256 : 0);
  p.crop = crop >= 0 ? crop : (colour ? 224 : 0);
  p.mean = !mean.empty() ? mean : (colour ? std::vector<double>{0.485, 0.456, 0.406} : std::vector<double>{0.2860});
  p.std = !std.empty() ? std : (colour ? std::vector<double>{0.229, 0.224, 0.225} : std::vector<double>{0.3530});
  if (static_cast<int64_t>(p.mean.size()) != channels || static_cast<int64_t>(p.std.size()) != channels)
    throw SettingError("mean", " and std need one value per channel (" + std::to_string(channels) + " channels)");
  return p;
}

}  // namespace imret::data
