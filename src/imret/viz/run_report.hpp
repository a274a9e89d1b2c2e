#pragma once
// `imret report`: a self-contained HTML page (plus its pictures) per run
// folder, and a page that compares runs. A run page shows the retrieval
// metrics, the precision-recall curve, the training curves, maps of the query
// embeddings (PCA / t-SNE / UMAP), retrieval grids and the run's settings.
// Each part is drawn from what the run holds; a part the run lacks (no
// train_log.csv, no embeddings, images no longer at hand) gets a note saying
// so instead of a picture.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace imret::viz {

// Checked by write_run_report / write_comparison_report (UsageError naming
// the option): maps among pca, tsne, umap; grids among random, first, best,
// worst; 1 <= grid_k, grid_count <= 100; map_sample >= 0.
struct ReportOptions {
  std::vector<std::string> maps = {"pca", "tsne", "umap"};  // map methods (imret visualize's); empty: none
  int64_t map_sample = 5000;                         // queries mapped (0: all)
  std::vector<std::string> grids = {"random", "best", "worst"};  // empty: no grids
  int64_t grid_k = 8, grid_count = 6;
  uint64_t seed = 0;
};

struct ReportedRun {
  std::string name;
  std::filesystem::path folder;
  // Where the page says the run is, when it is read before being moved
  // there (a run folder being built); empty: `folder`.
  std::filesystem::path shown_folder;
};

// Writes `out`/index.html and its pictures for one run. Returns the page.
std::filesystem::path write_run_report(const ReportedRun& run, const std::filesystem::path& out,
                                       const ReportOptions& options);

// Writes `out`/index.html comparing the runs (metrics table with the best of
// each column in bold, precision-recall curves and training curves of all
// runs on shared plots, metric bars, the maps side by side, the settings that
// differ), and each run's page in `out`/runs/<name>/. Names must be unique.
std::filesystem::path write_comparison_report(const std::vector<ReportedRun>& runs, const std::filesystem::path& out,
                                              const ReportOptions& options);

}  // namespace imret::viz
