// Plots in a build without cairo (IMRET_WITH_CAIRO=OFF): every writer says so.
#include "imret/core/error.hpp"
#include "imret/viz/detection_drawing.hpp"
#include "imret/viz/plot.hpp"

namespace imret::viz {
namespace fs = std::filesystem;

namespace {
[[noreturn]] void no_plots(const fs::path& file) {
  throw UsageError(file.string() +
                   ": cannot draw plots: this build has no cairo (plots off); rebuild with libcairo2-dev installed");
}
}  // namespace

bool has_plots() { return false; }

void write_scatter_plot(const std::vector<Series>&, const PlotOptions&, const fs::path& file,
                        const std::vector<Thumbnail>&, double) {
  no_plots(file);
}

void write_image_grid(const std::vector<GridRow>&, const GridOptions&, const fs::path& file) { no_plots(file); }

void write_line_plot(const std::vector<Series>&, const PlotOptions&, const fs::path& file) { no_plots(file); }

void write_bar_chart(const std::vector<std::string>&, const std::vector<BarGroup>&, const PlotOptions&,
                     const fs::path& file) {
  no_plots(file);
}

void write_detection_image(const torch::Tensor&, const detect::Detections&, const DetectionDrawOptions&,
                           const fs::path& file) {
  no_plots(file);
}

}  // namespace imret::viz
