// data::PreprocessChoice: torchvision's ImageNet evaluation preprocessing for
// colour images, Fashion-MNIST's statistics for grey ones, any value overridden.
#include <gtest/gtest.h>

#include "imret/data/preprocess_defaults.hpp"
#include "support/errors.hpp"

namespace imret::data {
namespace {

TEST(PreprocessChoice, DefaultsFollowTheChannels) {
  const Preprocess colour = PreprocessChoice{}.resolve(3);
  EXPECT_EQ(colour.resize, 256);
  EXPECT_EQ(colour.crop, 224);
  EXPECT_EQ(colour.mean, (std::vector<double>{0.485, 0.456, 0.406}));
  EXPECT_EQ(colour.std, (std::vector<double>{0.229, 0.224, 0.225}));
  const Preprocess grey = PreprocessChoice{}.resolve(1);
  EXPECT_EQ(grey.resize, 0);
  EXPECT_EQ(grey.crop, 0);
  EXPECT_EQ(grey.mean, std::vector<double>{0.2860});
  EXPECT_FALSE(PreprocessChoice{}.given());
}

TEST(PreprocessChoice, GivenValuesWinAndMustFitTheChannels) {
  PreprocessChoice choice;
  choice.crop = 0;
  choice.mean = {0.5, 0.5, 0.5};
  EXPECT_TRUE(choice.given());
  const Preprocess p = choice.resolve(3);
  EXPECT_EQ(p.resize, 256);
  EXPECT_EQ(p.crop, 0);
  EXPECT_EQ(p.mean, (std::vector<double>{0.5, 0.5, 0.5}));
  const std::string error = testing::error_of([&] { choice.resolve(1); });
  EXPECT_EQ(error, "mean and std need one value per channel (1 channels)");
}

}  // namespace
}  // namespace imret::data
