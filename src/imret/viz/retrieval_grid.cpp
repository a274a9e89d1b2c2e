#include "imret/viz/retrieval_grid.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <random>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/eval/evaluate.hpp"
#include "imret/search/self_match.hpp"
#include "imret/viz/item_pictures.hpp"
#include "imret/viz/plot.hpp"

namespace imret::viz {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kSelections = {"random", "first", "best", "worst"};

void check_options(const RetrievalGridOptions& options) {
  if (options.k < 1 || options.k > 100) throw UsageError("grid: -k must be 1 to 100 (got " + std::to_string(options.k) + ")");
  if (options.count < 1 || options.count > 100) {
    throw UsageError("grid: the number of queries must be 1 to 100 (got " + std::to_string(options.count) + ")");
  }
  if (options.selections.empty()) throw UsageError("grid: no selection of queries given");
  for (const std::string& s : options.selections) {
    if (std::find(kSelections.begin(), kSelections.end(), s) == kSelections.end()) {
      throw UsageError("grid: unknown selection \"" + s + "\" (random, first, best, worst)");
    }
  }
  if (options.cell_size < 16 || options.cell_size > 1024) {
    throw SettingError("cell_size", " must be 16 to 1024 (got " + std::to_string(options.cell_size) + ")");
  }
  if (options.object_relevance != "same-class") eval::parse_object_relevance_mode(options.object_relevance);
  if (!(options.weighted_threshold > 0.0 && options.weighted_threshold <= 1.0))
    throw UsageError("grid: the weighted threshold must lie in (0, 1]");
  if (options.formats.empty()) throw UsageError("grid: no picture format given");
  for (const std::string& f : options.formats) {
    if (f != "png" && f != "svg") throw UsageError("grid: unknown format \"" + f + "\" (png, svg)");
  }
}

at::Tensor as_tensor(const EmbeddingSet& set) {
  return at::from_blob(const_cast<float*>(set.embeddings.values.data()), {set.embeddings.rows, set.embeddings.cols},
                       at::kFloat);
}

std::string format_score(double score, search::Metric metric) {
  char text[32];
  std::snprintf(text, sizeof text, metric == search::Metric::Cosine ? "cos %.3f" : "dist %.3f", score);
  return text;
}

std::string format_ap(double ap) {
  char text[32];
  std::snprintf(text, sizeof text, "AP %.3f", ap);
  return text;
}

std::string title_of(const std::string& selection, int64_t k, const std::string& relevance) {
  const std::string top = "top " + std::to_string(k) + " (" + relevance + ")";
  if (selection == "best") return "Best queries by average precision, with their " + top;
  if (selection == "worst") return "Worst queries by average precision, with their " + top;
  if (selection == "first") return "The first queries, with their " + top;
  return "Random queries, with their " + top;
}

struct Ranked {
  std::vector<int64_t> ids;
  std::vector<float> scores;
};

// The top k of each query in `rows`, without the query itself when the
// queries are the database.
std::vector<Ranked> rank(const at::Tensor& queries, const at::Tensor& database, const std::vector<int64_t>& rows,
                         const RetrievalGridOptions& options) {
  auto index = search::make_index(options.metric == search::Metric::Cosine ? "exact:cosine" : "exact", at::kCPU);
  index->add(database);
  const at::Tensor picked = queries.index_select(0, at::tensor(rows, at::kLong));
  const search::SearchResult result = options.exclude_self
                                          ? search::search_without_self(*index, picked, rows, options.k)
                                          : index->search(picked, options.k);
  const auto ids = result.ids.accessor<int64_t, 2>();
  const auto scores = result.scores.accessor<float, 2>();
  std::vector<Ranked> ranked(rows.size());
  for (std::size_t q = 0; q < rows.size(); ++q) {
    for (int64_t j = 0; j < ids.size(1) && ids[static_cast<int64_t>(q)][j] >= 0; ++j) {
      ranked[q].ids.push_back(ids[static_cast<int64_t>(q)][j]);
      ranked[q].scores.push_back(scores[static_cast<int64_t>(q)][j]);
    }
  }
  return ranked;
}

// What a grid says of an item: its class, or its objects.
class ItemText {
 public:
  ItemText(const EmbeddingSet& set, bool objects) : objects_(objects), all_objects_(set.all_objects()) {
    if (set.meta.contains("classes") && set.meta["classes"].is_array())
      for (const auto& name : set.meta["classes"])
        class_names_.push_back(name.is_string() ? name.get<std::string>() : std::string("?"));
  }

  std::string caption(const EmbeddedItem& item, int64_t row) const {
    return objects_ ? object_counts_text(all_objects_[static_cast<std::size_t>(row)], class_names_) : item.class_name;
  }

  nlohmann::json json(const EmbeddedItem& item, int64_t row) const {
    nlohmann::json entry = {{"index", item.index}, {"source", item.source}, {"class", item.class_name}};
    if (objects_) {
      auto pairs = nlohmann::json::array();
      for (const ObjectCount& o : all_objects_[static_cast<std::size_t>(row)]) pairs.push_back({o.category, o.count});
      entry["objects"] = std::move(pairs);
      entry["objects_text"] = caption(item, row);
    }
    return entry;
  }

  const std::vector<ObjectCounts>& objects() const { return all_objects_; }

 private:
  bool objects_;
  std::vector<ObjectCounts> all_objects_;
  std::vector<std::string> class_names_;
};

// The relevance the grids frame results by, and its words for the title.
struct GridRelevance {
  std::unique_ptr<eval::Relevance> relevance;
  std::string legend;
};

GridRelevance grid_relevance(const EmbeddingSet& queries, const ItemText& query_text, const EmbeddingSet& database,
                             const ItemText& database_text, bool objects, const RetrievalGridOptions& options) {
  if (!objects || options.object_relevance == "same-class")
    return {std::make_unique<eval::SameClassRelevance>(queries.labels(), database.labels(), options.exclude_self),
            "green: same class, red: another"};
  const eval::ObjectRelevanceMode mode = eval::parse_object_relevance_mode(options.object_relevance);
  const char* meaning = mode == eval::ObjectRelevanceMode::Selection     ? "a class in common"
                        : mode == eval::ObjectRelevanceMode::Aggregation ? "the same classes"
                                                                         : "similar counts";
  return {std::make_unique<eval::ObjectRelevance>(query_text.objects(), database_text.objects(), mode,
                                                  options.exclude_self, options.weighted_threshold),
          std::string("green: ") + meaning + " (" + eval::to_string(mode) + "), red: not"};
}

}  // namespace

void read_run_evaluation(const fs::path& run, RetrievalGridOptions& options) {
  const fs::path file = run / "metrics.json";
  if (!fs::exists(file)) return;
  nlohmann::json metrics;
  try {
    metrics = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw Error(file.string() + ": malformed JSON: " + e.what());
  }
  if (metrics.contains("metric") && metrics["metric"].is_string()) {
    try {
      options.metric = search::parse_metric(metrics["metric"].get<std::string>());
    } catch (const Error& e) {
      throw Error(file.string() + ": " + e.what());
    }
  }
  if (metrics.contains("exclude_self") && metrics["exclude_self"].is_boolean()) {
    options.exclude_self = metrics["exclude_self"].get<bool>();
  }
  // "objects: weighted" -> weighted; "same class" -> same-class (also for items with objects)
  const std::string relevance =
      metrics.contains("relevance") && metrics["relevance"].is_string() ? metrics["relevance"].get<std::string>() : "";
  const std::string prefix = "objects: ";
  if (relevance.rfind(prefix, 0) == 0) options.object_relevance = relevance.substr(prefix.size());
  if (relevance == "same class") options.object_relevance = "same-class";
  if (metrics.contains("weighted_threshold") && metrics["weighted_threshold"].is_number())
    options.weighted_threshold = metrics["weighted_threshold"].get<double>();
}

std::vector<int64_t> select_queries(const std::vector<double>& average_precision, const std::string& selection,
                                    int64_t count, uint64_t seed) {
  const auto n = static_cast<int64_t>(average_precision.size());
  std::vector<int64_t> rows(static_cast<std::size_t>(n));
  std::iota(rows.begin(), rows.end(), 0);
  if (selection == "first") {
    rows.resize(static_cast<std::size_t>(std::min(count, n)));
    return rows;
  }
  if (selection == "random") {
    std::mt19937_64 generator(seed);
    std::shuffle(rows.begin(), rows.end(), generator);
    rows.resize(static_cast<std::size_t>(std::min(count, n)));
    return rows;
  }
  if (selection != "best" && selection != "worst") {
    throw UsageError("grid: unknown selection \"" + selection + "\" (random, first, best, worst)");
  }
  rows.erase(std::remove_if(rows.begin(), rows.end(),
                            [&](int64_t r) { return std::isnan(average_precision[static_cast<std::size_t>(r)]); }),
             rows.end());
  const bool best = selection == "best";
  std::stable_sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) {
    const double x = average_precision[static_cast<std::size_t>(a)], y = average_precision[static_cast<std::size_t>(b)];
    return best ? x > y : x < y;
  });
  rows.resize(std::min(rows.size(), static_cast<std::size_t>(count)));
  return rows;
}

RetrievalGrids write_retrieval_grids(const EmbeddingSet& queries, const fs::path& queries_folder,
                                     const EmbeddingSet& database, const fs::path& database_folder,
                                     const RetrievalGridOptions& options, const fs::path& out) {
  check_options(options);
  if (queries.embeddings.rows == 0) throw Error(queries_folder.string() + ": no queries");
  if (database.embeddings.rows == 0) throw Error(database_folder.string() + ": an empty database");
  if (queries.embeddings.cols != database.embeddings.cols) {
    throw Error(queries_folder.string() + ": queries of dimension " + std::to_string(queries.embeddings.cols) +
                " but a database (" + database_folder.string() + ") of dimension " +
                std::to_string(database.embeddings.cols));
  }
  const auto same_folder = [](const fs::path& a, const fs::path& b) {
    std::error_code error;
    const bool same = fs::equivalent(a, b, error);
    return error ? a.lexically_normal() == b.lexically_normal() : same;
  };
  if (options.exclude_self && !same_folder(queries_folder, database_folder)) {
    throw SettingError("exclude_self", " needs the queries to be the database (" + queries_folder.string() +
                                           " is not " + database_folder.string() + ")");
  }
  const bool objects = queries.has_objects() || database.has_objects();
  const bool by_class = !objects || options.object_relevance == "same-class";
  for (const auto& [set, folder] : {std::pair<const EmbeddingSet*, const fs::path*>{&queries, &queries_folder},
                                    {&database, &database_folder}}) {
    for (const EmbeddedItem& item : set->items) {
      if (item.label < 0 && by_class) {
        throw Error(folder->string() + ": item " + std::to_string(item.index) +
                    " has no label: grids frame results by their class");
      }
    }
  }
  const ItemText query_text(queries, objects), database_text(database, objects);
  const GridRelevance relevance = grid_relevance(queries, query_text, database, database_text, objects, options);
  // Open the images first: a set whose data is gone fails before the ranking.
  const ItemPictures query_pictures(queries, queries_folder);
  const ItemPictures database_pictures(database, database_folder);

  const at::Tensor query_vectors = as_tensor(queries), database_vectors = as_tensor(database);
  eval::MetricOptions metric_options;
  metric_options.ks = {1};
  metric_options.pr_points = 2;
  const eval::RetrievalEvaluation evaluation =
      eval::evaluate_retrieval(query_vectors, database_vectors, options.metric, *relevance.relevance, metric_options, true);
  std::vector<double> average_precision;
  for (const eval::QueryMetrics& m : evaluation.per_query) {
    average_precision.push_back(m.num_relevant > 0 ? m.average_precision : NAN);
  }

  RetrievalGrids grids;
  grids.summary = {{"metric", search::to_string(options.metric)},
                   {"k", options.k},
                   {"exclude_self", options.exclude_self},
                   {"relevance", by_class ? std::string("same class") : "objects: " + options.object_relevance},
                   {"queries", queries_folder.string()},
                   {"database", database_folder.string()},
                   {"selections", nlohmann::json::object()}};
  for (const std::string& selection : options.selections) {
    const std::vector<int64_t> rows = select_queries(average_precision, selection, options.count, options.seed);
    if (rows.empty()) continue;  // best/worst when no query has a relevant item
    const std::vector<Ranked> ranked = rank(query_vectors, database_vectors, rows, options);
    std::vector<GridRow> grid;
    nlohmann::json shown = nlohmann::json::array();
    for (std::size_t q = 0; q < rows.size(); ++q) {
      const EmbeddedItem& query = queries.items[static_cast<std::size_t>(rows[q])];
      const std::string query_caption = query_text.caption(query, rows[q]);
      const double ap = average_precision[static_cast<std::size_t>(rows[q])];
      GridRow row;
      row.label = {"query " + std::to_string(rows[q]), query_caption,
                   std::isnan(ap) ? std::string("no relevant item") : format_ap(ap)};
      row.cells.push_back(GridCell{query_pictures.picture(rows[q], options.cell_size), {"query", query_caption},
                                   Verdict::none});
      std::vector<int8_t> grades(static_cast<std::size_t>(database.embeddings.rows));
      relevance.relevance->grade_row(rows[q], grades.data());
      nlohmann::json entry = query_text.json(query, rows[q]);
      entry["query"] = rows[q];
      entry["average_precision"] = std::isnan(ap) ? nlohmann::json(nullptr) : nlohmann::json(ap);
      entry["results"] = nlohmann::json::array();
      for (std::size_t j = 0; j < ranked[q].ids.size(); ++j) {
        const int64_t id = ranked[q].ids[j];
        const EmbeddedItem& item = database.items[static_cast<std::size_t>(id)];
        const bool correct = grades[static_cast<std::size_t>(id)] > 0;
        row.cells.push_back(GridCell{database_pictures.picture(id, options.cell_size),
                                     {"#" + std::to_string(j + 1) + "  " + format_score(ranked[q].scores[j], options.metric),
                                      database_text.caption(item, id)},
                                     correct ? Verdict::correct : Verdict::wrong});
        nlohmann::json result = database_text.json(item, id);
        result["rank"] = j + 1;
        result["row"] = id;
        result["score"] = ranked[q].scores[j];
        result["correct"] = correct;
        entry["results"].push_back(std::move(result));
      }
      grid.push_back(std::move(row));
      shown.push_back(std::move(entry));
    }
    GridOptions grid_options;
    grid_options.title = title_of(selection, options.k, relevance.legend);
    grid_options.cell_size = options.cell_size;
    for (const std::string& format : options.formats) {
      const fs::path file = out / ("grid-" + selection + "." + format);
      write_image_grid(grid, grid_options, file);
      grids.files.push_back(file);
    }
    grids.summary["selections"][selection] = std::move(shown);
  }
  write_file_atomic(out / "grids.json", grids.summary.dump(2) + "\n");
  return grids;
}

}  // namespace imret::viz
