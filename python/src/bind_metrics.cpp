// imret.metrics: ranking metrics equal to scikit-learn's (eval/metrics.hpp).
#include <pybind11/stl.h>
#include <torch/torch.h>

#include <map>

#include "arrays.hpp"
#include "bindings.hpp"
#include "imret/core/feedback.hpp"
#include "imret/eval/evaluate.hpp"
#include "imret/eval/metrics.hpp"
#include "imret/eval/relevance.hpp"
#include "imret/search/index.hpp"

namespace imret::python {

namespace {

std::vector<int8_t> binary_relevance(const std::vector<int64_t>& values, const char* name) {
  std::vector<int8_t> out(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] != 0 && values[i] != 1)
      throw py::value_error(std::string(name) + "[" + std::to_string(i) + "]: expected 0 or 1, got " +
                            std::to_string(values[i]));
    out[i] = static_cast<int8_t>(values[i]);
  }
  return out;
}

// The metrics of one ranking (scores + 0/1 relevance), checked.
eval::QueryMetrics one_ranking(const py::object& y_true, const py::object& scores, const eval::MetricOptions& options) {
  const std::vector<int8_t> relevance = binary_relevance(int_vector(y_true, "y_true"), "y_true");
  const std::vector<float> values = float_vector(scores, "scores");
  if (relevance.size() != values.size())
    throw py::value_error("y_true and scores: " + std::to_string(relevance.size()) + " and " +
                          std::to_string(values.size()) + " values");
  if (values.empty()) throw py::value_error("y_true and scores: empty");
  py::gil_scoped_release release;
  return eval::evaluate_query(values.data(), relevance.data(), static_cast<int64_t>(values.size()), options);
}

eval::MetricOptions options_of(const std::vector<int>& k, int pr_points) {
  eval::MetricOptions options;
  options.ks = k;
  options.pr_points = pr_points;
  for (int cut : k)
    if (cut < 1) throw py::value_error("k: every cut-off must be >= 1, got " + std::to_string(cut));
  if (pr_points < 2) throw py::value_error("pr_points: must be >= 2, got " + std::to_string(pr_points));
  return options;
}

py::dict summary_dict(const eval::Summary& summary) { return json_to_python(summary.to_json()); }

}  // namespace

void bind_metrics(py::module_& m) {
  m.doc() = "Ranking metrics of retrieval, equal to scikit-learn's (ties included).";
  m.def(
      "average_precision",
      [](const py::object& y_true, const py::object& scores) {
        return one_ranking(y_true, scores, options_of({1}, 2)).average_precision;
      },
      py::arg("y_true"), py::arg("scores"),
      R"(Average precision of one ranking: sklearn.metrics.average_precision_score(y_true, scores).

y_true: 1-D array of 0/1 (or bool), 1 = relevant. scores: 1-D array, higher = more similar
(compared as float32). Tied scores share one operating point, as in scikit-learn, so their
order does not matter. 0.0 when nothing is relevant.)");

  m.def(
      "ranking_metrics",
      [](const py::object& y_true, const py::object& scores, std::vector<int> k, int pr_points) {
        const eval::MetricOptions options = options_of(k, pr_points);
        const eval::QueryMetrics q = one_ranking(y_true, scores, options);
        py::dict out;
        out["relevant"] = q.num_relevant;
        out["AP"] = q.average_precision;
        out["mAP@R"] = q.map_at_r;
        out["R-precision"] = q.r_precision;
        out["RR"] = q.reciprocal_rank;
        py::dict p, r, hit;
        for (size_t i = 0; i < k.size(); ++i) {
          p[py::int_(k[i])] = q.precision_at_k[i];
          r[py::int_(k[i])] = q.recall_at_k[i];
          hit[py::int_(k[i])] = q.hit_rate_at_k[i];
        }
        out["P@K"] = p;
        out["R@K"] = r;
        out["hit@K"] = hit;
        return out;
      },
      py::arg("y_true"), py::arg("scores"), py::arg("k") = std::vector<int>{1, 5, 10}, py::arg("pr_points") = 101,
      R"(Every metric of one ranking (scores + 0/1 relevance): a dict with "relevant", "AP",
"mAP@R", "R-precision", "RR" (reciprocal rank) and "P@K", "R@K", "hit@K" ({k: value}).
Rank-based metrics rank tied scores by position (lower index first).)");

  m.def(
      "pr_curve",
      [](const py::object& y_true, const py::object& scores, int points) {
        const eval::QueryMetrics q = one_ranking(y_true, scores, options_of({1}, points));
        std::vector<double> recall(static_cast<size_t>(points));
        for (int j = 0; j < points; ++j) recall[static_cast<size_t>(j)] = static_cast<double>(j) / (points - 1);
        return py::make_tuple(py::array(py::cast(recall)), py::array(py::cast(q.interpolated_precision)));
      },
      py::arg("y_true"), py::arg("scores"), py::arg("points") = 101,
      R"(The interpolated precision-recall curve of one ranking: (recall, precision), `points`
recall levels 0, 1/(points-1), ..., 1, each with the highest precision at that recall or more.)");

  m.def(
      "retrieval_metrics",
      [](const py::object& query_emb, const py::object& query_labels, const py::object& db_emb,
         const py::object& db_labels, const std::string& metric, std::vector<int> k, bool exclude_self,
         int pr_points) {
        py::object keep_q, keep_d;
        const at::Tensor queries = matrix(query_emb, "query_emb", keep_q);
        const at::Tensor database = matrix(db_emb, "db_emb", keep_d);
        const std::vector<int64_t> ql = int_vector(query_labels, "query_labels");
        const std::vector<int64_t> dl = int_vector(db_labels, "db_labels");
        if (static_cast<int64_t>(ql.size()) != queries.size(0))
          throw py::value_error("query_labels: " + std::to_string(ql.size()) + " labels for " +
                                std::to_string(queries.size(0)) + " queries");
        if (static_cast<int64_t>(dl.size()) != database.size(0))
          throw py::value_error("db_labels: " + std::to_string(dl.size()) + " labels for " +
                                std::to_string(database.size(0)) + " database items");
        if (queries.size(1) != database.size(1))
          throw py::value_error("query_emb and db_emb: " + std::to_string(queries.size(1)) + " and " +
                                std::to_string(database.size(1)) + " dimensions");
        if (exclude_self && ql.size() != dl.size())
          throw py::value_error("exclude_self: the queries must be the database items (same count)");
        const search::Metric by = parse_metric_name(metric);
        const eval::MetricOptions options = options_of(k, pr_points);
        eval::RetrievalEvaluation result;
        {
          py::gil_scoped_release release;
          FeedbackScope quiet(silent_feedback());
          const eval::SameClassRelevance relevance(ql, dl, exclude_self);
          result = eval::evaluate_retrieval(queries, database, by, relevance, options, /*keep_per_query=*/true);
        }
        py::dict out = summary_dict(result.summary);
        // Mean AP of each query class (classes whose queries have no relevant item: left out).
        std::map<int64_t, std::pair<double, int64_t>> per_class;
        for (size_t q = 0; q < ql.size(); ++q) {
          const eval::QueryMetrics& m = result.per_query[q];
          if (m.num_relevant == 0) continue;
          auto& [sum, count] = per_class[ql[q]];
          sum += m.average_precision;
          ++count;
        }
        py::dict classes;
        for (const auto& [label, acc] : per_class) classes[py::int_(label)] = acc.first / static_cast<double>(acc.second);
        out["per_class_mAP"] = classes;
        return out;
      },
      py::arg("query_emb"), py::arg("query_labels"), py::arg("db_emb"), py::arg("db_labels"),
      py::arg("metric") = "cosine", py::arg("k") = std::vector<int>{1, 5, 10}, py::arg("exclude_self") = false,
      py::arg("pr_points") = 101,
      R"(Retrieval metrics of every query ranked against the whole database (relevant = same label).

query_emb (Q x D) and db_emb (N x D): float32 or float64, never copied when C-contiguous.
metric: "cosine" or "euclidean" ("l2"). exclude_self: the queries are the database (query i is
item i, left out of its own ranking). Returns a dict: "queries", "queries_without_relevant",
"mAP", "mAP@R", "R-precision", "MRR", "P@K", "R@K", "hit@K" ({"1": ...}), "pr_curve"
({"recall": [...], "precision": [...]}) and "per_class_mAP" ({label: mAP}). As `imret evaluate`.)");
}

}  // namespace imret::python
