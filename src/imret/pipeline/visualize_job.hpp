#pragma once
// 2-D maps of an embedding folder into a folder (`imret visualize`):
// <method>.csv, <method>.png/.svg and visualize.json with each map's quality.
// The maps are written aside and replace an earlier visualization only when
// all are done.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/viz/embedding_map.hpp"

namespace imret::pipeline {

struct VisualizeRequest {
  std::string embeddings;                           // the embedding folder
  std::vector<std::string> methods = {"pca", "tsne"};  // pca | tsne | umap
  std::vector<std::string> formats = {"png", "svg"};   // plot formats; none: the CSV files only
  std::string title;            // the name in the plot titles (empty: the folder)
  viz::MapOptions map;          // its method is set per map
  bool drop_nonfinite = false;  // leave out rows with NaN/inf (else refuse the folder)
  int64_t thumbnails = 0;       // draw the images of up to this many spread-out points
};

struct MapWritten {
  std::string method;
  int64_t points = 0;
  double seconds = 0;
  nlohmann::json details;            // viz::EmbeddingMap::details
  std::vector<std::string> files;    // the files written for it, in the folder
};

struct VisualizeOutcome {
  std::filesystem::path folder;
  bool plots = false;  // false: this build has no cairo, the CSV files only
};

// The default folder of a visualization: EMBEDDINGS/visualize.
std::filesystem::path default_visualize_folder(const std::string& embeddings);

// Maps the folder with each method in turn, calling `on_map` after each one.
// Every setting is checked against the points before the first map:
// UsageError naming the setting (format, the t-SNE method and learning rate,
// thumbnails, the map options of viz::check_map_options).
VisualizeOutcome visualize_to_folder(const VisualizeRequest& request, const std::filesystem::path& folder,
                                     const std::function<void(const MapWritten&)>& on_map = {});

// "trustworthiness@10 0.9731, 10-NN accuracy in 2-D 0.8120" from a map's details.
std::string map_quality_text(const nlohmann::json& details);

}  // namespace imret::pipeline
