#pragma once
// The preprocessing a network gets when nothing says otherwise, with any of
// its four values set by the caller.
#include <cstdint>
#include <vector>

#include "imret/data/transforms.hpp"

namespace imret::data {

struct PreprocessChoice {
  int64_t resize = -1;  // < 0: the default for the data
  int64_t crop = -1;
  std::vector<double> mean, std;  // empty: the default for the data

  // Grey data (1 channel): no resize or crop, Fashion-MNIST's mean and std.
  // Colour images: resize 256, center crop 224 and ImageNet's mean and std
  // (torchvision's ImageNet evaluation preprocessing). SettingError naming
  // mean when they do not have one value per channel.
  Preprocess resolve(int64_t channels) const;
  // True when any value was chosen.
  bool given() const { return resize >= 0 || crop >= 0 || !mean.empty() || !std.empty(); }
};

}  // namespace imret::data
