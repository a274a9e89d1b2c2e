#include "imret/pipeline/visualize_job.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>

#include "imret/core/atomic_file.hpp"
#include "imret/core/embedding_tensor.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/viz/item_pictures.hpp"
#include "imret/viz/map_thumbnails.hpp"
#include "imret/viz/plot.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

namespace {

std::string method_title(const std::string& method) {
  return method == "pca" ? "PCA" : method == "umap" ? "UMAP" : "t-SNE";
}

void check_request(const VisualizeRequest& request) {
  for (const auto& format : request.formats)
    if (format != "png" && format != "svg") throw SettingError("format", " " + format + ": expected png or svg");
  const auto& tsne = request.map.tsne;
  if (tsne.method != "barnes_hut" && tsne.method != "exact")
    throw SettingError("tsne_method", " " + tsne.method + ": expected barnes_hut or exact");
  if (tsne.learning_rate < 0) throw SettingError("learning_rate", " must be > 0 (or auto)");
  if (request.thumbnails < 0) throw SettingError("thumbnails", " must be >= 0");
}

OutputRules visualization_rules(const std::string& embeddings) {
  OutputRules rules;
  rules.kind = "visualization";
  rules.command = "visualize";
  rules.replace = true;
  rules.inputs = {embeddings};
  // Written before markers: the maps and visualize.json, nothing else.
  rules.legacy = [](const fs::path& folder) {
    return only_entries(folder, {"visualize.json"},
                        {"pca.csv", "pca.png", "pca.svg", "tsne.csv", "tsne.png", "tsne.svg", "umap.csv", "umap.png",
                         "umap.svg"},
                        "visualize.json");
  };
  return rules;
}

}  // namespace

fs::path default_visualize_folder(const std::string& embeddings) { return fs::path(embeddings) / "visualize"; }

std::string map_quality_text(const nlohmann::json& details) {
  std::string text;
  char buffer[160];
  if (!details["trustworthiness"].is_null()) {
    std::snprintf(buffer, sizeof buffer, "trustworthiness@%lld %.4f", details["k"].get<long long>(),
                  details["trustworthiness"].get<double>());
    text += buffer;
  }
  if (!details["knn_accuracy"].is_null()) {
    std::snprintf(buffer, sizeof buffer, "%s%lld-NN accuracy in 2-D %.4f", text.empty() ? "" : ", ",
                  details["k"].get<long long>(), details["knn_accuracy"].get<double>());
    text += buffer;
  }
  return text;
}

VisualizeOutcome visualize_to_folder(const VisualizeRequest& request, const fs::path& folder,
                                     const std::function<void(const MapWritten&)>& on_map) {
  check_request(request);
  VisualizeOutcome outcome{folder, !request.formats.empty() && viz::has_plots()};
  if (!request.formats.empty() && !outcome.plots)
    spdlog::warn("this build has no plots (cairo); writing the CSV files only");
  viz::MapOptions options = request.map;
  const EmbeddingSet set = load_embedding_set(request.embeddings, {request.drop_nonfinite});
  // Every map's settings against the points, before a first map is computed.
  viz::check_map_options(request.methods, options, set.embeddings.rows, set.embeddings.cols);
  // Opened before the (slow) maps: a set whose images are gone fails first.
  std::unique_ptr<viz::ItemPictures> pictures;
  if (request.thumbnails > 0 && outcome.plots) pictures = std::make_unique<viz::ItemPictures>(set, request.embeddings);
  const at::Tensor embeddings = embeddings_tensor(set);
  OutputFolder output(folder, visualization_rules(request.embeddings));
  const fs::path& out = output.path();
  const std::string name =
      request.title.empty() ? fs::path(request.embeddings).lexically_normal().string() : request.title;

  nlohmann::json summary = nlohmann::json::object();
  for (const auto& method : request.methods) {
    options.method = method;
    const viz::EmbeddingMap map = viz::map_embeddings(embeddings, set.labels(), options);
    viz::write_map_csv(map, set, out / (method + ".csv"));
    MapWritten written{method, static_cast<int64_t>(map.rows.size()), map.seconds, map.details, {method + ".csv"}};
    if (outcome.plots) {
      const std::string title =
          method_title(method) + " of " + name + " (" + std::to_string(map.rows.size()) + " points)";
      const std::vector<viz::MapThumbnail> thumbnails =
          pictures ? viz::map_thumbnails(map, *pictures, request.thumbnails, options.seed)
                   : std::vector<viz::MapThumbnail>{};
      for (const auto& format : request.formats) {
        viz::write_map_plot(map, set, title, out / (method + "." + format), thumbnails);
        written.files.push_back(method + "." + format);
      }
    }
    summary[method] = map.details;
    if (on_map) on_map(written);
  }
  write_file_atomic(out / "visualize.json", dump_json(summary, 2) + "\n");
  output.publish();
  return outcome;
}

}  // namespace imret::pipeline
