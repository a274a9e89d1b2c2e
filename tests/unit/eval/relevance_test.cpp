#include <gtest/gtest.h>

#include "imret/core/error.hpp"
#include "imret/eval/relevance.hpp"

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
