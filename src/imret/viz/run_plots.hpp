#pragma once
// The plots of one or more run folders (imret train / demo / experiment):
// precision-recall curves of all runs on one plot, training curves per epoch,
// and a bar chart of the retrieval metrics. Each reads what the run wrote:
// pr_curve.csv, train_log.csv, metrics.json.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace imret::viz {

struct RunData {
  std::string name;  // shown in legends
  std::filesystem::path folder;
  // pr_curve.csv (mean interpolated curve); empty when absent.
  std::vector<double> recall, precision;
  // train_log.csv columns by name (epoch, train_loss, val_map_at_r, ...); empty when absent.
  std::vector<std::string> log_columns;
  std::vector<std::vector<double>> log_rows;
  // metrics.json "retrieval": mAP, mAP@R, P@1, P@10 (NaN when absent); has_metrics when found.
  bool has_metrics = false;
  double map = NAN, map_at_r = NAN, precision_at_1 = NAN, precision_at_10 = NAN;

  std::vector<double> log_column(const std::string& name) const;  // empty when absent
};

// Reads what there is of a run folder; throws imret::Error naming the file
// when a file is there but malformed, and when the folder has none of the three.
RunData read_run(const std::filesystem::path& folder, const std::string& name);

// Writes into `out` for each format (png, svg) the plots the runs have data
// for: precision-recall, training-loss, validation-map-at-r and
// validation-precision-at-1 (per epoch), metrics (bars). A run has the same
// colour in every line plot. Returns the files written.
std::vector<std::filesystem::path> write_run_plots(const std::vector<RunData>& runs, const std::filesystem::path& out,
                                                   const std::vector<std::string>& formats);

}  // namespace imret::viz
