#include "imret/viz/run_plots.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/viz/plot.hpp"

namespace fs = std::filesystem;

namespace imret::viz {
namespace {

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> fields;
  std::stringstream stream(line);
  std::string field;
  while (std::getline(stream, field, ',')) fields.push_back(field);
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

double number(const std::string& text, const fs::path& file, int line) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);  // "nan" reads as NaN
  if (text.empty() || end != text.c_str() + text.size())
    throw Error(file.string() + ":" + std::to_string(line) + ": '" + text + "' is not a number");
  return value;
}

// A numeric CSV with a header line: the column names and the rows.
void read_numeric_csv(const fs::path& file, std::vector<std::string>& columns, std::vector<std::vector<double>>& rows) {
  std::stringstream text(read_file(file));
  std::string line;
  if (!std::getline(text, line) || line.empty()) throw Error(file.string() + ": empty, expected a header line");
  columns = split(line);
  for (int number_of_line = 2; std::getline(text, line); ++number_of_line) {
    if (line.empty()) continue;
    const std::vector<std::string> fields = split(line);
    if (fields.size() != columns.size())
      throw Error(file.string() + ":" + std::to_string(number_of_line) + ": " + std::to_string(fields.size()) +
                  " fields, the header has " + std::to_string(columns.size()));
    std::vector<double> row;
    for (const auto& field : fields) row.push_back(number(field, file, number_of_line));
    rows.push_back(std::move(row));
  }
}

double metric(const nlohmann::json& retrieval, const std::string& key, const std::string& k = "") {
  if (!retrieval.contains(key)) return NAN;
  const nlohmann::json& value = k.empty() ? retrieval.at(key) : retrieval.at(key).value(k, nlohmann::json());
  return value.is_number() ? value.get<double>() : NAN;
}

std::string with_map(const RunData& run) {
  if (std::isnan(run.map)) return run.name;
  char text[32];
  std::snprintf(text, sizeof text, " (mAP %.3f)", run.map);
  return run.name + text;
}

// One series per run of column `y` against the epoch; runs without it are left out.
std::vector<Series> per_epoch(const std::vector<RunData>& runs, const std::string& y) {
  std::vector<Series> curves;
  for (const auto& run : runs) {
    const std::vector<double> epochs = run.log_column("epoch"), values = run.log_column(y);
    bool any = false;
    for (double v : values) any |= std::isfinite(v);
    if (epochs.empty() || !any) continue;
    curves.push_back({run.name, epochs, values});
  }
  return curves;
}

}  // namespace

std::vector<double> RunData::log_column(const std::string& column) const {
  std::vector<double> values;
  for (size_t c = 0; c < log_columns.size(); ++c)
    if (log_columns[c] == column)
      for (const auto& row : log_rows) values.push_back(row[c]);
  return values;
}

RunData read_run(const fs::path& folder, const std::string& name) {
  if (!fs::is_directory(folder)) throw Error(folder.string() + ": no such run folder");
  RunData run;
  run.name = name;
  run.folder = folder;
  if (fs::exists(folder / "pr_curve.csv")) {
    std::vector<std::string> columns;
    std::vector<std::vector<double>> rows;
    read_numeric_csv(folder / "pr_curve.csv", columns, rows);
    if (columns != std::vector<std::string>{"recall", "precision"})
      throw Error((folder / "pr_curve.csv").string() + ": expected the columns recall,precision");
    for (const auto& row : rows) {
      run.recall.push_back(row[0]);
      run.precision.push_back(row[1]);
    }
  }
  if (fs::exists(folder / "train_log.csv")) read_numeric_csv(folder / "train_log.csv", run.log_columns, run.log_rows);
  if (fs::exists(folder / "metrics.json")) {
    nlohmann::json metrics;
    try {
      metrics = nlohmann::json::parse(read_file(folder / "metrics.json"));
    } catch (const nlohmann::json::exception& e) {
      throw Error((folder / "metrics.json").string() + ": malformed JSON (" + e.what() + ")");
    }
    const nlohmann::json retrieval = metrics.value("retrieval", nlohmann::json::object());
    run.has_metrics = retrieval.is_object() && !retrieval.empty();
    if (run.has_metrics) {
      run.map = metric(retrieval, "mAP");
      run.map_at_r = metric(retrieval, "mAP@R");
      run.precision_at_1 = metric(retrieval, "P@K", "1");
      run.precision_at_10 = metric(retrieval, "P@K", "10");
    }
  }
  if (run.recall.empty() && run.log_rows.empty() && !run.has_metrics)
    throw Error(folder.string() + ": no pr_curve.csv, train_log.csv or metrics.json (not a run folder?)");
  return run;
}

std::vector<fs::path> write_run_plots(const std::vector<RunData>& runs, const fs::path& out,
                                      const std::vector<std::string>& formats) {
  std::vector<fs::path> written;
  auto write = [&](const std::string& stem, auto&& draw) {
    for (const auto& format : formats) {
      const fs::path file = out / (stem + "." + format);
      draw(file);
      written.push_back(file);
    }
  };

  PlotOptions wide;  // room for the legend's run names
  wide.width = 1200;

  std::vector<Series> pr;
  for (const auto& run : runs)
    if (!run.recall.empty()) pr.push_back({with_map(run), run.recall, run.precision});
  if (!pr.empty()) {
    PlotOptions options = wide;
    options.title = "Precision-recall (mean over queries, interpolated)";
    options.x_label = "recall";
    options.y_label = "precision";
    options.x_min = options.y_min = 0;
    options.x_max = options.y_max = 1;
    write("precision-recall", [&](const fs::path& file) { write_line_plot(pr, options, file); });
  }

  std::vector<Series> loss = per_epoch(runs, "train_loss");
  if (!loss.empty()) {
    PlotOptions options = wide;
    options.title = "Training loss per epoch";
    options.x_label = "epoch";
    options.integer_x = true;
    options.y_label = "training loss";
    write("training-loss", [&](const fs::path& file) { write_line_plot(loss, options, file); });
  }

  // One plot per validation measure, so that a run keeps its colour in every plot.
  for (const auto& [column, stem, label] :
       {std::tuple<std::string, std::string, std::string>{"val_map_at_r", "validation-map-at-r", "mAP@R"},
        {"val_precision_at_1", "validation-precision-at-1", "P@1"}}) {
    const std::vector<Series> curves = per_epoch(runs, column);
    if (curves.empty()) continue;
    PlotOptions options = wide;
    options.title = "Validation " + label + " per epoch (held-out training images)";
    options.x_label = "epoch";
    options.integer_x = true;
    options.y_label = "validation " + label;
    write(stem, [&](const fs::path& file) { write_line_plot(curves, options, file); });
  }

  std::vector<BarGroup> bars;
  for (const auto& run : runs)
    if (run.has_metrics) bars.push_back({run.name, {run.map, run.map_at_r, run.precision_at_1, run.precision_at_10}});
  if (!bars.empty()) {
    PlotOptions options = wide;
    options.title = "Retrieval metrics (test queries against the database)";
    options.y_label = "score";
    options.y_min = 0;  // the top grows until the value labels fit
    write("metrics", [&](const fs::path& file) { write_bar_chart({"mAP", "mAP@R", "P@1", "P@10"}, bars, options, file); });
  }
  return written;
}

}  // namespace imret::viz
