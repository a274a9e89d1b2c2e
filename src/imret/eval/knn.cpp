#include "imret/eval/knn.hpp"

#include <torch/torch.h>

#include <string>

#include "imret/core/error.hpp"

namespace imret::eval {

namespace {

void check_inputs(const search::SearchResult& neighbours, const std::vector<int64_t>& query_labels, int64_t k,
                  int64_t num_classes) {
  if (!neighbours.ids.defined() || neighbours.ids.dim() != 2)
    throw Error("knn_classify: neighbour ids must be a Q x k matrix");
  if (neighbours.ids.size(0) != static_cast<int64_t>(query_labels.size()))
    throw Error("knn_classify: " + std::to_string(neighbours.ids.size(0)) + " rows of neighbours for " +
                std::to_string(query_labels.size()) + " query labels");
  if (k < 1 || k > neighbours.ids.size(1))
    throw Error("knn_classify: k = " + std::to_string(k) + " but " + std::to_string(neighbours.ids.size(1)) +
                " neighbours were retrieved per query (need 1 <= k <= that)");
  if (num_classes < 1) throw Error("knn_classify: num_classes must be >= 1");
  for (int64_t label : query_labels)
    if (label < 0 || label >= num_classes)
      throw Error("knn_classify: query label " + std::to_string(label) + " outside [0, " +
                  std::to_string(num_classes) + ")");
}

double distance_of(float score, search::Metric metric) {
  return metric == search::Metric::Cosine ? 1.0 - static_cast<double>(score) : static_cast<double>(score);
}

// The winning class of one query; -1 when it has no valid neighbour.
// `votes` has num_classes zeros on entry and on return.
int64_t vote(const int64_t* ids, const float* scores, int64_t k, search::Metric metric, bool distance_weighted,
             const std::vector<int64_t>& database_labels, int64_t num_classes, std::vector<double>& votes) {
  bool exact_match = false;
  if (distance_weighted)
    for (int64_t j = 0; j < k; ++j) exact_match |= ids[j] >= 0 && distance_of(scores[j], metric) <= 0;
  auto label_of = [&](int64_t id) {
    if (id >= static_cast<int64_t>(database_labels.size()))
      throw Error("knn_classify: neighbour id " + std::to_string(id) + " but only " +
                  std::to_string(database_labels.size()) + " database labels");
    const int64_t label = database_labels[static_cast<size_t>(id)];
    if (label < 0 || label >= num_classes)
      throw Error("knn_classify: database label " + std::to_string(label) + " outside [0, " +
                  std::to_string(num_classes) + ")");
    return label;
  };
  for (int64_t j = 0; j < k; ++j) {
    if (ids[j] < 0) continue;
    double weight = 1;
    if (distance_weighted) {
      const double d = distance_of(scores[j], metric);
      weight = exact_match ? (d <= 0 ? 1.0 : 0.0) : 1.0 / d;
    }
    votes[static_cast<size_t>(label_of(ids[j]))] += weight;
  }
  // Visiting neighbours in rank order and replacing only on strictly more
  // votes gives ties to the class whose best-ranked neighbour comes first.
  int64_t best = -1;
  double best_votes = -1;
  for (int64_t j = 0; j < k; ++j) {
    if (ids[j] < 0) continue;
    const int64_t c = database_labels[static_cast<size_t>(ids[j])];
    if (votes[static_cast<size_t>(c)] > best_votes) {
      best = c;
      best_votes = votes[static_cast<size_t>(c)];
    }
  }
  for (int64_t j = 0; j < k; ++j)
    if (ids[j] >= 0) votes[static_cast<size_t>(database_labels[static_cast<size_t>(ids[j])])] = 0;
  return best;
}

}  // namespace

KnnReport knn_classify(const search::SearchResult& neighbours, const std::vector<int64_t>& database_labels,
                       const std::vector<int64_t>& query_labels, int64_t k, int64_t num_classes,
                       bool distance_weighted) {
  check_inputs(neighbours, query_labels, k, num_classes);
  const at::Tensor ids = neighbours.ids.to(torch::kCPU, torch::kInt64).contiguous();
  at::Tensor scores;
  if (distance_weighted) {
    if (!neighbours.scores.defined() || neighbours.scores.sizes() != neighbours.ids.sizes())
      throw Error("knn_classify: distance weighting needs scores shaped like the ids");
    scores = neighbours.scores.to(torch::kCPU, torch::kFloat32).contiguous();
  }
  const int64_t num_queries = ids.size(0), columns = ids.size(1);
  KnnReport report;
  report.k = k;
  report.per_class_count.assign(static_cast<size_t>(num_classes), 0);
  std::vector<int64_t> per_class_correct(static_cast<size_t>(num_classes), 0);
  std::vector<double> votes(static_cast<size_t>(num_classes), 0.0);
  int64_t correct = 0;
  for (int64_t q = 0; q < num_queries; ++q) {
    const int64_t* row_ids = ids.data_ptr<int64_t>() + q * columns;
    const float* row_scores = distance_weighted ? scores.data_ptr<float>() + q * columns : nullptr;
    const int64_t predicted =
        vote(row_ids, row_scores, k, neighbours.metric, distance_weighted, database_labels, num_classes, votes);
    report.predictions.push_back(predicted);
    const auto truth = static_cast<size_t>(query_labels[static_cast<size_t>(q)]);
    ++report.per_class_count[truth];
    if (predicted == static_cast<int64_t>(truth)) {
      ++correct;
      ++per_class_correct[truth];
    }
  }
  report.accuracy = num_queries > 0 ? static_cast<double>(correct) / static_cast<double>(num_queries) : 0.0;
  for (int64_t c = 0; c < num_classes; ++c) {
    const auto i = static_cast<size_t>(c);
    report.per_class_accuracy.push_back(
        report.per_class_count[i] > 0
            ? static_cast<double>(per_class_correct[i]) / static_cast<double>(report.per_class_count[i])
            : 0.0);
  }
  return report;
}

nlohmann::json KnnReport::to_json(const std::vector<std::string>& class_names) const {
  if (!class_names.empty() && class_names.size() != per_class_count.size())
    throw Error("KnnReport::to_json: " + std::to_string(class_names.size()) + " class names for " +
                std::to_string(per_class_count.size()) + " classes");
  nlohmann::json j;
  j["k"] = k;
  j["accuracy"] = accuracy;
  nlohmann::json classes = nlohmann::json::array();
  for (size_t c = 0; c < per_class_count.size(); ++c) {
    nlohmann::json entry;
    entry["class"] = class_names.empty() ? std::to_string(c) : class_names[c];
    entry["index"] = c;
    entry["count"] = per_class_count[c];
    entry["accuracy"] = per_class_count[c] > 0 ? nlohmann::json(per_class_accuracy[c]) : nlohmann::json(nullptr);
    classes.push_back(entry);
  }
  j["per_class"] = classes;
  return j;
}

}  // namespace imret::eval
