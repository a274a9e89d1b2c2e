#include "imret/eval/relevance.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "imret/core/error.hpp"

using imret::eval::SameClassRelevance;

TEST(SameClassRelevance, GradesBySameLabel) {
  SameClassRelevance relevance({1, 2}, {2, 1, 1, 3}, false);
  EXPECT_EQ(relevance.num_queries(), 2);
  EXPECT_EQ(relevance.database_size(), 4);
  std::vector<int8_t> row(4);
  relevance.grade_row(0, row.data());
  EXPECT_EQ(row, (std::vector<int8_t>{0, 1, 1, 0}));
  relevance.grade_row(1, row.data());
  EXPECT_EQ(row, (std::vector<int8_t>{1, 0, 0, 0}));
  EXPECT_THROW(relevance.grade_row(2, row.data()), imret::Error);
}

TEST(SameClassRelevance, ExcludeSelf) {
  SameClassRelevance relevance({1, 1, 2}, {1, 1, 2}, true);
  std::vector<int8_t> row(3);
  relevance.grade_row(1, row.data());
  EXPECT_EQ(row, (std::vector<int8_t>{1, -1, 0}));
  relevance.grade_row(2, row.data());
  EXPECT_EQ(row, (std::vector<int8_t>{0, 0, -1}));
  EXPECT_THROW(SameClassRelevance({1}, {1, 2}, true), imret::Error);
}

// ----------------------------------------------------------------------------
// ObjectRelevance (COCO): selection, aggregation, weighted, on hand-made items.

using imret::ObjectCounts;
using imret::eval::ObjectRelevance;
using imret::eval::ObjectRelevanceMode;

namespace {

constexpr int32_t A = 0, B = 1, C = 2;

std::vector<int8_t> grades(const ObjectRelevance& relevance, int64_t query) {
  std::vector<int8_t> row(static_cast<size_t>(relevance.database_size()));
  relevance.grade_row(query, row.data());
  return row;
}

std::vector<float> gains(const ObjectRelevance& relevance, int64_t query) {
  std::vector<float> row(static_cast<size_t>(relevance.database_size()));
  relevance.gain_row(query, row.data());
  return row;
}

// Database: {A x2, B}, {A x2, B x2}, {C}, {} (no objects, or crowd only), {A, B}, {B}.
const std::vector<ObjectCounts> kDatabase = {{{A, 2}, {B, 1}}, {{A, 2}, {B, 2}}, {{C, 1}}, {},
                                             {{A, 1}, {B, 1}}, {{B, 1}}};

}  // namespace

TEST(ObjectRelevance, SelectionSharesAtLeastOneClass) {
  ObjectRelevance relevance({{{A, 2}, {B, 1}}, {{C, 3}}}, kDatabase, ObjectRelevanceMode::Selection, false);
  EXPECT_EQ(grades(relevance, 0), (std::vector<int8_t>{1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(grades(relevance, 1), (std::vector<int8_t>{0, 0, 1, 0, 0, 0}));
  EXPECT_EQ(gains(relevance, 0), (std::vector<float>{1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(relevance.mode(), ObjectRelevanceMode::Selection);
}

TEST(ObjectRelevance, AggregationNeedsTheSameSetWhateverTheCounts) {
  ObjectRelevance relevance({{{A, 5}, {B, 1}}, {{B, 1}}}, kDatabase, ObjectRelevanceMode::Aggregation, false);
  EXPECT_EQ(grades(relevance, 0), (std::vector<int8_t>{1, 1, 0, 0, 1, 0}));
  EXPECT_EQ(grades(relevance, 1), (std::vector<int8_t>{0, 0, 0, 0, 0, 1}));  // {B} vs {A, B}: not the same set
  EXPECT_EQ(gains(relevance, 1), (std::vector<float>{0, 0, 0, 0, 0, 1}));
}

TEST(ObjectRelevance, WeightedIsIntersectionOverUnionOfCounts) {
  // {A x2, B} vs {A x2, B x2}: min 2 + 1 = 3, max 2 + 2 = 4 -> 0.75, both ways.
  EXPECT_DOUBLE_EQ(imret::eval::weighted_overlap({{A, 2}, {B, 1}}, {{A, 2}, {B, 2}}), 0.75);
  EXPECT_DOUBLE_EQ(imret::eval::weighted_overlap({{A, 2}, {B, 2}}, {{A, 2}, {B, 1}}), 0.75);
  EXPECT_DOUBLE_EQ(imret::eval::weighted_overlap({{A, 1}}, {{A, 1}}), 1.0);
  EXPECT_DOUBLE_EQ(imret::eval::weighted_overlap({{A, 1}}, {{B, 1}}), 0.0);
  EXPECT_DOUBLE_EQ(imret::eval::weighted_overlap({}, {}), 0.0);
  // A missing class and an extra instance both lower it: {A} vs {A, B} = 1/2, {A} vs {A x2} = 1/2.
  EXPECT_DOUBLE_EQ(imret::eval::weighted_overlap({{A, 1}}, {{A, 1}, {B, 1}}), 0.5);
  EXPECT_DOUBLE_EQ(imret::eval::weighted_overlap({{A, 1}}, {{A, 2}}), 0.5);

  ObjectRelevance relevance({{{A, 2}, {B, 1}}}, kDatabase, ObjectRelevanceMode::Weighted, false, 0.75);
  // Gains: 1, 3/4, 0, 0, {A,B}: 2/3, {B}: 1/3.
  const auto g = gains(relevance, 0);
  const std::vector<float> expected = {1.0f, 0.75f, 0.0f, 0.0f, 2.0f / 3.0f, 1.0f / 3.0f};
  for (size_t i = 0; i < g.size(); ++i) EXPECT_FLOAT_EQ(g[i], expected[i]) << i;
  EXPECT_EQ(grades(relevance, 0), (std::vector<int8_t>{1, 1, 0, 0, 0, 0}));  // gain >= 0.75
  ObjectRelevance strict({{{A, 2}, {B, 1}}}, kDatabase, ObjectRelevanceMode::Weighted, false, 0.8);
  EXPECT_EQ(grades(strict, 0), (std::vector<int8_t>{1, 0, 0, 0, 0, 0}));
  ObjectRelevance loose({{{A, 2}, {B, 1}}}, kDatabase, ObjectRelevanceMode::Weighted, false, 0.3);
  EXPECT_EQ(grades(loose, 0), (std::vector<int8_t>{1, 1, 0, 0, 1, 1}));
}

TEST(ObjectRelevance, ImagesWithoutObjectsAreRelevantToNothing) {
  // An empty ObjectCounts: no objects, or only crowd regions (crowd does not count).
  for (auto mode : {ObjectRelevanceMode::Selection, ObjectRelevanceMode::Aggregation, ObjectRelevanceMode::Weighted}) {
    ObjectRelevance relevance({{}, {{A, 1}}}, {{}, {{A, 1}}, {}}, mode, false);
    EXPECT_EQ(grades(relevance, 0), (std::vector<int8_t>{0, 0, 0})) << to_string(mode);  // empty query: nothing
    EXPECT_EQ(gains(relevance, 0), (std::vector<float>{0, 0, 0})) << to_string(mode);
    EXPECT_EQ(grades(relevance, 1), (std::vector<int8_t>{0, 1, 0})) << to_string(mode);  // empty items: never
  }
}

TEST(ObjectRelevance, ExcludeSelfMarksTheQueryInGradesAndGains) {
  const std::vector<ObjectCounts> items = {{{A, 1}}, {{A, 1}}, {{A, 2}}};
  ObjectRelevance relevance(items, items, ObjectRelevanceMode::Weighted, true);
  EXPECT_EQ(grades(relevance, 1), (std::vector<int8_t>{1, -1, 1}));  // {A} vs {A x2} = 0.5 >= default threshold 0.5
  EXPECT_EQ(gains(relevance, 1), (std::vector<float>{1.0f, -1.0f, 0.5f}));
  EXPECT_THROW(ObjectRelevance(items, {{{A, 1}}}, ObjectRelevanceMode::Selection, true), imret::Error);
}

TEST(ObjectRelevance, BadInput) {
  const std::vector<ObjectCounts> good = {{{A, 1}}};
  const ObjectCounts unsorted = {{B, 1}, {A, 1}};
  const ObjectCounts repeated = {{A, 1}, {A, 2}};
  const ObjectCounts zero_count = {{A, 0}};
  for (const auto& bad : {unsorted, repeated, zero_count}) {
    EXPECT_THROW(ObjectRelevance({bad}, good, ObjectRelevanceMode::Selection, false), imret::Error);
    EXPECT_THROW(ObjectRelevance(good, {bad}, ObjectRelevanceMode::Selection, false), imret::Error);
  }
  EXPECT_THROW(ObjectRelevance(good, good, ObjectRelevanceMode::Weighted, false, 0.0), imret::Error);
  EXPECT_THROW(ObjectRelevance(good, good, ObjectRelevanceMode::Weighted, false, 1.5), imret::Error);
  EXPECT_THROW(ObjectRelevance(good, good, ObjectRelevanceMode::Weighted, false, std::nan("")), imret::Error);
  EXPECT_NO_THROW(ObjectRelevance(good, good, ObjectRelevanceMode::Weighted, false, 1.0));
  ObjectRelevance relevance(good, good, ObjectRelevanceMode::Selection, false);
  std::vector<int8_t> row(1);
  std::vector<float> gain_row(1);
  EXPECT_THROW(relevance.grade_row(1, row.data()), imret::Error);
  EXPECT_THROW(relevance.gain_row(-1, gain_row.data()), imret::Error);
}

TEST(ObjectRelevance, ModeNames) {
  for (auto mode : {ObjectRelevanceMode::Selection, ObjectRelevanceMode::Aggregation, ObjectRelevanceMode::Weighted})
    EXPECT_EQ(imret::eval::parse_object_relevance_mode(to_string(mode)), mode);
  EXPECT_THROW(imret::eval::parse_object_relevance_mode("strict"), imret::Error);
}

TEST(SameClassRelevance, GainsAreTheGradesAsFloats) {
  SameClassRelevance relevance({1, 1, 2}, {1, 1, 2}, true);
  std::vector<float> row(3);
  relevance.gain_row(0, row.data());
  EXPECT_EQ(row, (std::vector<float>{-1, 1, 0}));
}
