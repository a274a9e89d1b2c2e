#include "imret/eval/relevance.hpp"

#include <algorithm>
#include <string>

#include "imret/core/error.hpp"

namespace imret::eval {

void Relevance::gain_row(int64_t query, float* out) const {
  std::vector<int8_t> grades(static_cast<size_t>(database_size()));
  grade_row(query, grades.data());
  for (size_t i = 0; i < grades.size(); ++i) out[i] = grades[i];
}

SameClassRelevance::SameClassRelevance(std::vector<int64_t> query_labels, std::vector<int64_t> database_labels,
                                       bool exclude_self)
    : query_labels_(std::move(query_labels)), database_labels_(std::move(database_labels)), exclude_self_(exclude_self) {
  if (exclude_self_ && query_labels_.size() != database_labels_.size())
    throw Error("SameClassRelevance: exclude_self needs the queries to be the database (got " +
                std::to_string(query_labels_.size()) + " queries, " + std::to_string(database_labels_.size()) +
                " database items)");
}

void SameClassRelevance::grade_row(int64_t query, int8_t* out) const {
  if (query < 0 || query >= num_queries())
    throw Error("SameClassRelevance::grade_row: query " + std::to_string(query) + " out of range [0, " +
                std::to_string(num_queries()) + ")");
  const int64_t label = query_labels_[static_cast<size_t>(query)];
  const int64_t* database = database_labels_.data();
  const int64_t n = database_size();
  for (int64_t i = 0; i < n; ++i) out[i] = database[i] == label ? 1 : 0;
  if (exclude_self_) out[query] = -1;
}

ObjectRelevanceMode parse_object_relevance_mode(const std::string& text) {
  if (text == "selection") return ObjectRelevanceMode::Selection;
  if (text == "aggregation") return ObjectRelevanceMode::Aggregation;
  if (text == "weighted") return ObjectRelevanceMode::Weighted;
  throw UsageError("unknown relevance mode '" + text + "' (known: selection, aggregation, weighted)");
}

std::string to_string(ObjectRelevanceMode mode) {
  switch (mode) {
    case ObjectRelevanceMode::Selection:
      return "selection";
    case ObjectRelevanceMode::Aggregation:
      return "aggregation";
    case ObjectRelevanceMode::Weighted:
      return "weighted";
  }
  return "?";
}

double weighted_overlap(const ObjectCounts& a, const ObjectCounts& b) {
  if (a.empty() || b.empty()) return 0.0;
  int64_t intersection = 0, union_ = 0;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].category < b[j].category)) {
      union_ += a[i++].count;
    } else if (i == a.size() || b[j].category < a[i].category) {
      union_ += b[j++].count;
    } else {
      intersection += std::min(a[i].count, b[j].count);
      union_ += std::max(a[i].count, b[j].count);
      ++i;
      ++j;
    }
  }
  return static_cast<double>(intersection) / static_cast<double>(union_);
}

ObjectRelevance::ObjectRelevance(std::vector<ObjectCounts> queries, std::vector<ObjectCounts> database,
                                 ObjectRelevanceMode mode, bool exclude_self, double weighted_threshold)
    : queries_(std::move(queries)),
      database_(std::move(database)),
      mode_(mode),
      exclude_self_(exclude_self),
      weighted_threshold_(weighted_threshold) {
  if (!(weighted_threshold_ > 0.0 && weighted_threshold_ <= 1.0))
    throw UsageError("weighted relevance threshold " + std::to_string(weighted_threshold_) + " outside (0, 1]");
  if (exclude_self_ && queries_.size() != database_.size())
    throw Error("ObjectRelevance: exclude_self needs the queries to be the database (got " +
                std::to_string(queries_.size()) + " queries, " + std::to_string(database_.size()) +
                " database items)");
  for (size_t i = 0; i < queries_.size(); ++i) check_object_counts(queries_[i], "query " + std::to_string(i));
  for (size_t i = 0; i < database_.size(); ++i)
    check_object_counts(database_[i], "database item " + std::to_string(i));
}

double ObjectRelevance::gain(const ObjectCounts& query, const ObjectCounts& item) const {
  if (query.empty() || item.empty()) return 0.0;
  switch (mode_) {
    case ObjectRelevanceMode::Selection:
      return shared_categories(query, item) > 0 ? 1.0 : 0.0;
    case ObjectRelevanceMode::Aggregation: {
      if (query.size() != item.size()) return 0.0;
      for (size_t c = 0; c < query.size(); ++c)
        if (query[c].category != item[c].category) return 0.0;
      return 1.0;
    }
    case ObjectRelevanceMode::Weighted:
      return weighted_overlap(query, item);
  }
  return 0.0;
}

void ObjectRelevance::check_query(int64_t query) const {
  if (query < 0 || query >= num_queries())
    throw Error("ObjectRelevance: query " + std::to_string(query) + " out of range [0, " +
                std::to_string(num_queries()) + ")");
}

void ObjectRelevance::grade_row(int64_t query, int8_t* out) const {
  check_query(query);
  const ObjectCounts& q = queries_[static_cast<size_t>(query)];
  const bool weighted = mode_ == ObjectRelevanceMode::Weighted;
  for (size_t i = 0; i < database_.size(); ++i) {
    const double g = gain(q, database_[i]);
    out[i] = weighted ? (g >= weighted_threshold_ ? 1 : 0) : (g > 0.0 ? 1 : 0);
  }
  if (exclude_self_) out[query] = -1;
}

void ObjectRelevance::gain_row(int64_t query, float* out) const {
  check_query(query);
  const ObjectCounts& q = queries_[static_cast<size_t>(query)];
  for (size_t i = 0; i < database_.size(); ++i) out[i] = static_cast<float>(gain(q, database_[i]));
  if (exclude_self_) out[query] = -1.0f;
}

}  // namespace imret::eval
