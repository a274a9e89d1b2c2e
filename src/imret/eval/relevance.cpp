#include "imret/eval/relevance.hpp"

#include <string>

#include "imret/core/error.hpp"

namespace imret::eval {

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

}  // namespace imret::eval
