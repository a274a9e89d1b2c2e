#pragma once
// k-nearest-neighbour classification from search results.
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "imret/search/index.hpp"

namespace imret::eval {

struct KnnReport {
  int64_t k = 0;
  double accuracy = 0;                     // correct / queries
  std::vector<double> per_class_accuracy;  // num_classes entries; 0 where a class has no query
  std::vector<int64_t> per_class_count;    // queries of each class
  std::vector<int64_t> predictions;        // one per query; -1 when no neighbour was found
  // {"k", "accuracy", "per_class": [{"class": name, "index", "count", "accuracy" (null when count is 0)}]}.
  // class_names: empty (classes are named by index) or num_classes names.
  nlohmann::json to_json(const std::vector<std::string>& class_names) const;
};

// Predicts each query's class from its k nearest neighbours (the first k
// columns of `neighbours`; -1 ids are ignored).
//  - plain: majority vote;
//  - distance_weighted: each neighbour votes 1 / distance (cosine distance =
//    1 - similarity); when some neighbours are at distance <= 0, only they
//    vote (weight 1 each), as scikit-learn's weights="distance" does.
// Ties go to the class whose best-ranked neighbour comes first.
// Needs 1 <= k <= neighbours.ids.size(1), labels in [0, num_classes) and ids
// < database_labels.size(); throws imret::Error otherwise.
KnnReport knn_classify(const search::SearchResult& neighbours, const std::vector<int64_t>& database_labels,
                       const std::vector<int64_t>& query_labels, int64_t k, int64_t num_classes,
                       bool distance_weighted = false);

}  // namespace imret::eval
