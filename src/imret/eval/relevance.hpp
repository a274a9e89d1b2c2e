#pragma once
// eval::Relevance: the only place that knows what "correct" means. Metrics
// see a row of grades per query, never a dataset.
#include <cstdint>
#include <string>
#include <vector>

#include "imret/core/object_counts.hpp"

namespace imret::eval {

// Grades of one query against every database item: 1 relevant, 0 not
// relevant, -1 excluded (left out of the ranking, e.g. the query itself).
class Relevance {
 public:
  virtual ~Relevance() = default;
  virtual int64_t num_queries() const = 0;
  virtual int64_t database_size() const = 0;
  // Needs 0 <= query < num_queries() and `out` with database_size() entries.
  // Must be safe to call from several threads at once.
  virtual void grade_row(int64_t query, int8_t* out) const = 0;
  // Graded relevance (gains) of the same row, for nDCG and graded AP: values
  // in [0, 1], negative = excluded (exactly where grade_row gives -1).
  // Default: grade_row's 0/1/-1 as floats.
  virtual void gain_row(int64_t query, float* out) const;
};

// Relevant = same class label. With exclude_self, query i is database item i
// (queries and database are the same set) and is graded -1.
class SameClassRelevance : public Relevance {
 public:
  // Throws imret::Error when exclude_self is set and the sizes differ.
  SameClassRelevance(std::vector<int64_t> query_labels, std::vector<int64_t> database_labels, bool exclude_self);

  int64_t num_queries() const override { return static_cast<int64_t>(query_labels_.size()); }
  int64_t database_size() const override { return static_cast<int64_t>(database_labels_.size()); }
  void grade_row(int64_t query, int8_t* out) const override;

 private:
  std::vector<int64_t> query_labels_;
  std::vector<int64_t> database_labels_;
  bool exclude_self_;
};

// What "correct" means for images with several objects (COCO), after the
// course's three criteria. A database image is relevant to a query when
//  - Selection:   they share at least one object class;
//  - Aggregation: they hold exactly the same set of object classes;
//  - Weighted:    their instance counts overlap enough: the graded relevance
//                 (gain) is the histogram intersection over union
//                   sum_c min(q_c, d_c) / sum_c max(q_c, d_c)   in [0, 1],
//                 and the item counts as relevant for the binary metrics when
//                 gain >= weighted_threshold.
// Gains: Selection and Aggregation give 0/1; Weighted the ratio above.
// An image without objects is relevant to nothing and nothing is relevant to
// it (a query without objects has nothing to look for). With exclude_self,
// query i is database item i and is graded -1.
enum class ObjectRelevanceMode { Selection, Aggregation, Weighted };

// "selection", "aggregation", "weighted"; UsageError otherwise.
ObjectRelevanceMode parse_object_relevance_mode(const std::string& text);
std::string to_string(ObjectRelevanceMode mode);

// sum_c min(a_c, b_c) / sum_c max(a_c, b_c); 0 when either is empty.
double weighted_overlap(const ObjectCounts& a, const ObjectCounts& b);

class ObjectRelevance : public Relevance {
 public:
  // Throws imret::Error for malformed object lists (check_object_counts), a
  // threshold outside (0, 1], or exclude_self with different sizes.
  ObjectRelevance(std::vector<ObjectCounts> queries, std::vector<ObjectCounts> database, ObjectRelevanceMode mode,
                  bool exclude_self, double weighted_threshold = 0.5);

  int64_t num_queries() const override { return static_cast<int64_t>(queries_.size()); }
  int64_t database_size() const override { return static_cast<int64_t>(database_.size()); }
  void grade_row(int64_t query, int8_t* out) const override;
  void gain_row(int64_t query, float* out) const override;
  ObjectRelevanceMode mode() const { return mode_; }

 private:
  double gain(const ObjectCounts& query, const ObjectCounts& item) const;
  void check_query(int64_t query) const;

  std::vector<ObjectCounts> queries_;
  std::vector<ObjectCounts> database_;
  ObjectRelevanceMode mode_;
  bool exclude_self_;
  double weighted_threshold_;
};

}  // namespace imret::eval
