// data::stratified_part: about `count` items with every class in proportion,
// the kept side of stratified_split, and the dataset itself when nothing is cut.
#include <gtest/gtest.h>

#include <map>

#include "data/test_util.hpp"

namespace imret::data {
namespace {

TEST(StratifiedPart, KeepsEachClassInProportion) {
  auto base = std::make_shared<testing::FakeDataset>(300, 3);
  const auto part = stratified_part(base, 60, 5);
  EXPECT_EQ(part->size(), 60);
  std::map<int64_t, int> per_class;
  for (int64_t i = 0; i < part->size(); ++i) ++per_class[part->label(i)];
  EXPECT_EQ(per_class, (std::map<int64_t, int>{{0, 20}, {1, 20}, {2, 20}}));
  // The same items as the kept side of the split it is made of.
  const auto kept = stratified_split(*base, 1.0 - 60.0 / 300.0, 5).first;
  for (int64_t i = 0; i < part->size(); ++i) EXPECT_EQ(part->source(i), base->source(kept[static_cast<size_t>(i)]));
}

TEST(StratifiedPart, WholeDatasetWhenNothingIsCut) {
  auto base = std::make_shared<testing::FakeDataset>(30, 3);
  EXPECT_EQ(stratified_part(base, 0, 1), base);
  EXPECT_EQ(stratified_part(base, 30, 1), base);
  EXPECT_EQ(stratified_part(base, 1000, 1), base);
}

}  // namespace
}  // namespace imret::data
