#pragma once
// eval::Relevance: the only place that knows what "correct" means. Metrics
// see a row of grades per query, never a dataset.
#include <cstdint>
#include <vector>

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

}  // namespace imret::eval
