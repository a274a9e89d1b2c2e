#include "imret/viz/run_report.hpp"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "imret/core/atomic_file.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/error.hpp"
#include "imret/core/feedback.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/core/yaml.hpp"
#include "imret/viz/embedding_map.hpp"
#include "imret/viz/html_page.hpp"
#include "imret/viz/retrieval_grid.hpp"
#include "imret/viz/run_plots.hpp"

namespace fs = std::filesystem;

namespace imret::viz {
namespace {

constexpr int kWide = 900;     // pixels a full-width picture takes on the page
constexpr int kNarrow = 440;   // two side by side
constexpr int kColumn = 320;   // several runs side by side

std::string fixed(double value, int decimals = 4) {
  if (!std::isfinite(value)) return "n/a";
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string method_title(const std::string& method) {
  if (method == "pca") return "PCA";
  if (method == "tsne") return "t-SNE";
  if (method == "umap") return "UMAP";
  return method;
}

nlohmann::json read_json_if_there(const fs::path& file) {
  if (!fs::exists(file)) return nullptr;
  try {
    return nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw Error(file.string() + ": malformed JSON: " + e.what());
  }
}

double number_at(const nlohmann::json& object, const std::string& key, const std::string& sub = "") {
  if (!object.is_object() || !object.contains(key)) return NAN;
  const nlohmann::json& value = sub.empty() ? object.at(key) : object.at(key).value(sub, nlohmann::json());
  return value.is_number() ? value.get<double>() : NAN;
}

// The k values of "P@K" (or another "...@K" key) in metrics.json, ascending.
std::vector<std::string> ks_of(const nlohmann::json& retrieval, const std::string& key = "P@K") {
  std::vector<int> ks;
  if (retrieval.contains(key) && retrieval[key].is_object()) {
    for (const auto& [k, value] : retrieval[key].items()) ks.push_back(std::stoi(k));
  }
  std::sort(ks.begin(), ks.end());
  std::vector<std::string> out;
  for (const int k : ks) out.push_back(std::to_string(k));
  return out;
}

std::vector<std::vector<std::string>> metric_rows(const nlohmann::json& metrics) {
  std::vector<std::vector<std::string>> rows;
  const nlohmann::json retrieval = metrics.value("retrieval", nlohmann::json::object());
  for (const char* key : {"mAP", "mAP@R", "R-precision", "MRR"}) rows.push_back({key, fixed(number_at(retrieval, key))});
  for (const std::string& k : ks_of(retrieval)) {
    rows.push_back({"P@" + k, fixed(number_at(retrieval, "P@K", k))});
    rows.push_back({"R@" + k, fixed(number_at(retrieval, "R@K", k))});
    rows.push_back({"hit@" + k, fixed(number_at(retrieval, "hit@K", k))});
  }
  if (metrics.contains("knn") && metrics["knn"].is_object()) {
    rows.push_back({"k-NN accuracy (k=" + std::to_string(metrics["knn"].value("k", 0)) + ")",
                    fixed(number_at(metrics["knn"], "accuracy"))});
  }
  for (const char* key : {"queries", "database"}) {
    if (metrics.contains(key) && metrics[key].is_number()) rows.push_back({key, std::to_string(metrics[key].get<int64_t>())});
  }
  for (const char* key : {"metric", "relevance"}) {
    if (metrics.contains(key) && metrics[key].is_string()) rows.push_back({key, metrics[key].get<std::string>()});
  }
  return rows;
}

// COCO runs: the three object modes side by side (metrics as rows), from
// metrics.json's "modes"; empty when the run has none.
std::pair<std::vector<std::string>, std::vector<std::vector<std::string>>> mode_table(const nlohmann::json& metrics) {
  if (!metrics.contains("modes") || !metrics["modes"].is_object() || metrics["modes"].empty()) return {};
  std::vector<std::string> header = {"metric"};
  std::vector<const nlohmann::json*> summaries;
  for (const char* mode : {"selection", "aggregation", "weighted"}) {
    if (!metrics["modes"].contains(mode)) continue;
    header.push_back(mode);
    summaries.push_back(&metrics["modes"][mode]);
  }
  std::vector<std::vector<std::string>> rows;
  auto add = [&](const std::string& label, const std::string& key, const std::string& sub, int decimals = 4) {
    std::vector<std::string> row = {label};
    for (const nlohmann::json* summary : summaries) row.push_back(fixed(number_at(*summary, key, sub), decimals));
    rows.push_back(std::move(row));
  };
  for (const char* key : {"mAP", "mAP@R"}) add(key, key, "");
  const nlohmann::json& first = *summaries.front();
  for (const std::string& k : ks_of(first)) add("P@" + k, "P@K", k);
  for (const std::string& k : ks_of(first, "nDCG@K")) add("nDCG@" + k, "nDCG@K", k);
  add("graded mAP", "graded mAP", "");
  add("queries without relevant", "queries_without_relevant", "", 0);
  return {header, rows};
}

void note(HtmlPage& page, const std::string& text) {
  page.paragraph_html("<span class=\"note\">" + html_escape(text) + "</span>");
}

// The part of the report that failed, in the log and on the page.
void failed(HtmlPage& page, const std::string& part, const std::exception& error) {
  spdlog::warn("report: no {}: {}", part, error.what());
  note(page, "No " + part + ": " + error.what());
}

struct MapOutcome {
  std::string method;
  std::string file;  // relative to the run's page; empty when it failed
  std::string caption;
};

std::vector<MapOutcome> draw_maps(const fs::path& queries_folder, const fs::path& out, const ReportOptions& options,
                                  HtmlPage& page) {
  std::vector<MapOutcome> outcomes;
  const EmbeddingSet set = load_embedding_set(queries_folder);
  const at::Tensor embeddings =
      at::from_blob(const_cast<float*>(set.embeddings.values.data()), {set.embeddings.rows, set.embeddings.cols},
                    at::kFloat);
  for (const std::string& method : options.maps) {
    MapOutcome outcome{method, "", ""};
    try {
      MapOptions map_options;
      map_options.method = method;
      map_options.sample = options.map_sample;
      map_options.seed = options.seed;
      const EmbeddingMap map = map_embeddings(embeddings, set.labels(), map_options);
      const std::string file = "map-" + method + ".png";
      write_map_plot(map, set, method_title(method) + " of " + std::to_string(map.rows.size()) + " query embeddings",
                     out / file);
      outcome.file = file;
      const nlohmann::json& d = map.details;
      outcome.caption = method_title(method) + ": " + std::to_string(map.rows.size()) + " points, " +
                        fixed(map.seconds, 1) + " s; trustworthiness@" + std::to_string(d.value("k", 0)) + " " +
                        (d["trustworthiness"].is_number() ? fixed(d["trustworthiness"].get<double>()) : "n/a") +
                        ", 2-D k-NN accuracy " +
                        (d["knn_accuracy"].is_number() ? fixed(d["knn_accuracy"].get<double>()) : "n/a");
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {
      failed(page, method_title(method) + " map", e);
    }
    outcomes.push_back(std::move(outcome));
  }
  return outcomes;
}

// The pictures write_run_plots wrote into `out`.
struct RunPlots {
  std::vector<fs::path> files;
  fs::path out;

  bool has(const std::string& stem) const {
    return std::find(files.begin(), files.end(), out / (stem + ".png")) != files.end();
  }
  // The per-epoch plots there are, as figures.
  std::vector<Figure> training_figures() const {
    std::vector<Figure> figures;
    for (const auto& [stem, caption] : std::vector<std::pair<std::string, std::string>>{
             {"training-loss", "Training loss per epoch"},
             {"validation-map-at-r", "Validation mAP@R per epoch"},
             {"validation-precision-at-1", "Validation P@1 per epoch"}}) {
      if (has(stem)) figures.push_back({stem + ".png", caption, ""});
    }
    return figures;
  }
};

// The run folder's pictures, page and what the comparison page needs of it.
struct RunPage {
  fs::path page;
  RunData data;
  nlohmann::json metrics;
  std::vector<MapOutcome> maps;
  std::string random_grid;  // relative to the run's page; empty when none
  nlohmann::json config;    // config.yaml as JSON; null when absent
};

RunPage build_run_page(const ReportedRun& run, const fs::path& out, const ReportOptions& options) {
  if (!fs::is_directory(run.folder)) throw Error(run.folder.string() + ": no such run folder");
  RunPage result;
  result.data = read_run(run.folder, run.name);
  const RunData& data = result.data;
  fs::create_directories(out);
  result.metrics = read_json_if_there(run.folder / "metrics.json");
  const fs::path config_file = run.folder / "config.yaml";
  if (fs::exists(config_file)) result.config = load_yaml(config_file);

  HtmlPage page("imret report: " + run.name);
  page.heading(1, run.name);
  page.paragraph("Run folder: " +
                 fs::absolute(run.shown_folder.empty() ? run.folder : run.shown_folder).lexically_normal().string());
  page.links({{"Metrics", "#metrics"},
              {"Precision-recall", "#precision-recall"},
              {"Training", "#training"},
              {"Embedding maps", "#maps"},
              {"Retrieval examples", "#grids"},
              {"Settings", "#settings"}});

  current_feedback().message("report " + run.name + ": plots");
  const RunPlots plots{write_run_plots({data}, out, {"png"}), out};

  page.heading(2, "Retrieval metrics", "metrics");
  if (result.metrics.is_null()) {
    note(page, "The run has no metrics.json.");
  } else {
    try {
      page.table({"metric", "value"}, metric_rows(result.metrics));
      const auto [header, rows] = mode_table(result.metrics);
      if (!rows.empty()) {
        page.paragraph("The same ranking graded in the three object modes: selection (a class in common), "
                       "aggregation (the same classes), weighted (similar instance counts; nDCG and graded mAP use "
                       "the overlap itself).");
        page.table(header, rows);
      }
    } catch (const std::exception& e) {
      throw Error((run.folder / "metrics.json").string() + ": unexpected content: " + e.what());
    }
    if (plots.has("metrics")) page.figures({{"metrics.png", "The main retrieval metrics", ""}}, kNarrow);
  }

  page.heading(2, "Precision-recall", "precision-recall");
  if (plots.has("precision-recall")) {
    page.figures({{"precision-recall.png", "Mean interpolated precision at each recall over the queries", ""}}, kNarrow);
  } else {
    note(page, "The run has no pr_curve.csv.");
  }

  page.heading(2, "Training", "training");
  const std::vector<Figure> training = plots.training_figures();
  if (training.empty()) note(page, "The run has no train_log.csv (it was not trained by imret, or not yet).");
  page.figures(training, kNarrow);

  page.heading(2, "Embedding maps", "maps");
  const fs::path queries = run.folder / "embeddings" / "queries";
  const fs::path database = run.folder / "embeddings" / "database";
  if (options.maps.empty()) {
    note(page, "No maps asked for.");
  } else if (!fs::exists(queries)) {
    note(page, "The run has no embeddings/queries.");
  } else {
    current_feedback().message("report " + run.name + ": maps");
    try {
      result.maps = draw_maps(queries, out, options, page);
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {
      failed(page, "embedding maps", e);
    }
    std::vector<Figure> figures;
    for (const MapOutcome& map : result.maps)
      if (!map.file.empty()) figures.push_back({map.file, map.caption, ""});
    page.figures(figures, kNarrow);
  }

  page.heading(2, "Retrieval examples", "grids");
  if (options.grids.empty()) {
    note(page, "No grids asked for.");
  } else if (!fs::exists(queries) || !fs::exists(database)) {
    note(page, "The run has no embeddings/queries and embeddings/database.");
  } else {
    current_feedback().message("report " + run.name + ": retrieval grids");
    try {
      RetrievalGridOptions grid_options;
      grid_options.k = options.grid_k;
      grid_options.count = options.grid_count;
      grid_options.selections = options.grids;
      grid_options.seed = options.seed;
      read_run_evaluation(run.folder, grid_options);
      const RetrievalGrids grids = write_retrieval_grids(load_embedding_set(queries), queries,
                                                         load_embedding_set(database), database, grid_options, out);
      for (const std::string& selection : options.grids) {
        const std::string file = "grid-" + selection + ".png";
        if (std::find(grids.files.begin(), grids.files.end(), out / file) == grids.files.end()) continue;
        page.heading(3, selection == "best"    ? "Best queries (highest average precision)"
                        : selection == "worst" ? "Worst queries (lowest average precision)"
                        : selection == "first" ? "The first queries"
                                               : "Random queries");
        const std::string relevance = grids.summary.value("relevance", std::string("same class"));
        const std::string frames = relevance == "same class"
                                       ? "green frame = same class, red = another"
                                       : "green frame = relevant (" + relevance + "), red = not";
        page.figures({{file, "Each query with its top " + std::to_string(options.grid_k) + ": " + frames + "; rank and " +
                                 search::to_string(grid_options.metric) + " score under each",
                       ""}},
                     kWide);
        if (selection == "random") result.random_grid = file;
      }
    } catch (const UsageError&) {
      throw;
    } catch (const Error& e) {
      failed(page, "retrieval grids", e);
    }
  }

  page.heading(2, "Settings", "settings");
  if (fs::exists(config_file)) {
    page.preformatted(read_file(config_file));
  } else {
    note(page, "The run has no config.yaml.");
  }

  result.page = out / "index.html";
  write_file_atomic(result.page, page.str());
  return result;
}

// config.yaml flattened to dotted keys -> values as text.
void flatten(const nlohmann::json& value, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (value.is_object()) {
    for (const auto& [key, child] : value.items()) flatten(child, prefix.empty() ? key : prefix + "." + key, out);
  } else {
    out[prefix] = value.is_string() ? value.get<std::string>() : value.dump();
  }
}

// A folder name for a run's page: its name with anything but letters,
// digits, '-', '_' and '.' replaced.
std::string folder_for(const std::string& name) {
  std::string folder;
  for (const char c : name) folder += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ? c : '_';
  if (folder.empty() || folder == "." || folder == "..") folder = "run";
  return folder;
}

void check_report_options(const ReportOptions& options) {
  for (const std::string& method : options.maps) {
    if (method != "pca" && method != "tsne" && method != "umap")
      throw SettingError("maps", " " + method + ": expected pca, tsne and/or umap");
  }
  for (const std::string& grid : options.grids) {
    if (grid != "random" && grid != "first" && grid != "best" && grid != "worst")
      throw SettingError("grids", " " + grid + ": expected random, first, best and/or worst");
  }
  if (options.grid_k < 1 || options.grid_k > 100) throw UsageError("-k must be 1 to 100");
  if (options.grid_count < 1 || options.grid_count > 100) throw SettingError("grid_count", " must be 1 to 100");
  if (options.map_sample < 0) throw SettingError("map_sample", " must be >= 0 (0: all)");
}

}  // namespace

fs::path write_run_report(const ReportedRun& run, const fs::path& out, const ReportOptions& options) {
  check_report_options(options);
  return build_run_page(run, out, options).page;
}

fs::path write_comparison_report(const std::vector<ReportedRun>& runs, const fs::path& out,
                                 const ReportOptions& options) {
  if (runs.empty()) throw UsageError("report: no runs");
  check_report_options(options);
  std::set<std::string> folders;
  for (const ReportedRun& run : runs) {
    if (!folders.insert(folder_for(run.name)).second)
      throw SettingError("names", ": two runs get the page folder runs/" + folder_for(run.name) +
                                    "; give them names that differ");
  }
  std::vector<RunPage> pages;
  std::vector<RunData> data;
  for (const ReportedRun& run : runs) {
    pages.push_back(build_run_page(run, out / "runs" / folder_for(run.name), options));
    data.push_back(pages.back().data);
  }
  current_feedback().message("report: comparison");
  const RunPlots plots{write_run_plots(data, out, {"png"}), out};

  HtmlPage page("imret report: " + std::to_string(runs.size()) + " runs");
  page.heading(1, "Comparison of " + std::to_string(runs.size()) + " runs");
  std::vector<std::pair<std::string, std::string>> run_links;
  for (const ReportedRun& run : runs) run_links.push_back({run.name, "runs/" + folder_for(run.name) + "/index.html"});
  page.paragraph("Each run's own page:");
  page.links(run_links);

  page.heading(2, "Retrieval metrics", "metrics");
  const std::vector<std::pair<std::string, std::string>> columns = {
      {"mAP", ""}, {"mAP@R", ""}, {"R-precision", ""}, {"MRR", ""}, {"P@K", "1"}, {"P@K", "10"}};
  std::vector<std::string> header = {"run"};
  for (const auto& [key, k] : columns) header.push_back(k.empty() ? key : "P@" + k);
  header.push_back("k-NN accuracy");
  std::vector<std::vector<double>> values;
  for (const RunPage& run : pages) {
    const nlohmann::json retrieval =
        run.metrics.is_object() ? run.metrics.value("retrieval", nlohmann::json::object()) : nlohmann::json::object();
    std::vector<double> row;
    for (const auto& [key, k] : columns) row.push_back(number_at(retrieval, key, k));
    row.push_back(run.metrics.is_object() && run.metrics.contains("knn") ? number_at(run.metrics["knn"], "accuracy")
                                                                         : NAN);
    values.push_back(std::move(row));
  }
  std::vector<std::vector<std::string>> rows;
  std::vector<std::vector<bool>> bold(runs.size(), std::vector<bool>(header.size(), false));
  for (std::size_t c = 0; c + 1 < header.size(); ++c) {
    double best = -INFINITY;
    for (const auto& row : values)
      if (std::isfinite(row[c])) best = std::max(best, row[c]);
    for (std::size_t r = 0; r < runs.size(); ++r) bold[r][c + 1] = std::isfinite(values[r][c]) && values[r][c] == best;
  }
  for (std::size_t r = 0; r < runs.size(); ++r) {
    std::vector<std::string> row = {runs[r].name};
    for (const double v : values[r]) row.push_back(fixed(v));
    rows.push_back(std::move(row));
  }
  page.table(header, rows, bold);
  page.paragraph("The best value of each column is in bold.");
  if (plots.has("metrics")) page.figures({{"metrics.png", "The main retrieval metrics of every run", ""}}, kWide);

  page.heading(2, "Precision-recall", "precision-recall");
  if (plots.has("precision-recall")) {
    page.figures({{"precision-recall.png", "Mean interpolated precision-recall curves", ""}}, kWide);
  } else {
    note(page, "No run has a pr_curve.csv.");
  }

  page.heading(2, "Training", "training");
  const std::vector<Figure> training = plots.training_figures();
  if (training.empty()) note(page, "No run has a train_log.csv.");
  page.figures(training, kNarrow);

  page.heading(2, "Embedding maps", "maps");
  for (const std::string& method : options.maps) {
    page.heading(3, method_title(method));
    std::vector<Figure> figures;
    for (std::size_t r = 0; r < runs.size(); ++r) {
      for (const MapOutcome& map : pages[r].maps) {
        if (map.method != method || map.file.empty()) continue;
        const std::string file = "runs/" + folder_for(runs[r].name) + "/" + map.file;
        figures.push_back({file, runs[r].name + " — " + map.caption, ""});
      }
    }
    if (figures.empty()) note(page, "No run has this map.");
    page.figures(figures, kColumn);
  }

  page.heading(2, "Retrieval examples", "grids");
  std::vector<Figure> grids;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    if (pages[r].random_grid.empty()) continue;
    const std::string folder = "runs/" + folder_for(runs[r].name) + "/";
    grids.push_back({folder + pages[r].random_grid, runs[r].name + ": random queries (best and worst on its page)",
                     folder + "index.html"});
  }
  if (grids.empty()) note(page, "No run has retrieval grids.");
  page.figures(grids, kNarrow);

  page.heading(2, "Settings that differ", "settings");
  std::vector<std::map<std::string, std::string>> settings(runs.size());
  std::set<std::string> keys;
  for (std::size_t r = 0; r < runs.size(); ++r) {
    if (!pages[r].config.is_null()) flatten(pages[r].config, "", settings[r]);
    for (const auto& [key, value] : settings[r]) keys.insert(key);
  }
  std::vector<std::string> settings_header = {"setting"};
  for (const ReportedRun& run : runs) settings_header.push_back(run.name);
  std::vector<std::vector<std::string>> differing;
  for (const std::string& key : keys) {
    std::vector<std::string> row = {key};
    std::set<std::string> distinct;
    for (const auto& run_settings : settings) {
      const auto found = run_settings.find(key);
      row.push_back(found == run_settings.end() ? "—" : found->second);
      distinct.insert(row.back());
    }
    if (distinct.size() > 1) differing.push_back(std::move(row));
  }
  if (differing.empty()) {
    note(page, "The runs' config.yaml files do not differ (or are missing).");
  } else {
    page.table(settings_header, differing);
    page.paragraph("Each run's whole config.yaml is on its page.");
  }

  const fs::path index = out / "index.html";
  write_file_atomic(index, page.str());
  return index;
}

}  // namespace imret::viz
