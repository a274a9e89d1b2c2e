#include "imret/viz/embedding_map.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/viz/map_thumbnails.hpp"
#include "imret/viz/pca.hpp"
#include "imret/viz/plot.hpp"
#include "imret/viz/trustworthiness.hpp"

namespace imret::viz {
namespace {

std::vector<int64_t> chosen_rows(int64_t n, int64_t sample, uint64_t seed) {
  std::vector<int64_t> rows;
  if (sample <= 0 || sample >= n) {
    rows.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) rows[static_cast<size_t>(i)] = i;
    return rows;
  }
  auto generator = at::detail::createCPUGenerator(seed);
  const at::Tensor pick = std::get<0>(torch::randperm(n, generator, torch::kLong).narrow(0, 0, sample).sort());
  rows.assign(pick.data_ptr<int64_t>(), pick.data_ptr<int64_t>() + sample);
  return rows;
}

// The options map_embeddings() gives t-SNE and UMAP for a 2-D map.
TsneOptions map_tsne_options(const MapOptions& options) {
  TsneOptions tsne_options = options.tsne;
  tsne_options.seed = options.seed;
  tsne_options.dimensions = 2;
  return tsne_options;
}

UmapOptions map_umap_options(const MapOptions& options) {
  UmapOptions umap_options = options.umap;
  umap_options.seed = options.seed;
  umap_options.n_components = 2;
  return umap_options;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

void check_map_options(const std::vector<std::string>& methods, const MapOptions& options, int64_t rows,
                       int64_t features) {
  const int64_t points = options.sample > 0 ? std::min(options.sample, rows) : rows;
  for (const auto& method : methods) {
    if (method != "pca" && method != "tsne" && method != "umap")
      throw SettingError("method", " " + method + ": expected pca, tsne or umap");
    if (points < 3) throw UsageError("visualize: " + std::to_string(points) + " points; a map needs at least 3");
    if (method == "tsne") check_tsne_options(map_tsne_options(options), points, features);
    if (method == "umap") check_umap_options(map_umap_options(options), points);
  }
}

EmbeddingMap map_embeddings(const at::Tensor& embeddings, const std::vector<int64_t>& labels, const MapOptions& options) {
  if (embeddings.dim() != 2) throw UsageError("visualize: embeddings must be an N x D matrix");
  if (static_cast<int64_t>(labels.size()) != embeddings.size(0))
    throw Error("visualize: " + std::to_string(labels.size()) + " labels for " + std::to_string(embeddings.size(0)) +
                " embeddings");
  check_map_options({options.method}, options, embeddings.size(0), embeddings.size(1));
  EmbeddingMap map;
  map.method = options.method;
  map.rows = chosen_rows(embeddings.size(0), options.sample, options.seed);
  const int64_t m = static_cast<int64_t>(map.rows.size());
  const at::Tensor index = torch::tensor(map.rows, torch::kLong);
  const at::Tensor data = embeddings.index_select(0, index).to(torch::kFloat32).contiguous();
  std::vector<int64_t> point_labels(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) point_labels[static_cast<size_t>(i)] = labels[static_cast<size_t>(map.rows[static_cast<size_t>(i)])];

  map.details = {{"method", options.method}, {"points", m}};
  const auto start = std::chrono::steady_clock::now();
  if (options.method == "pca") {
    const PcaResult result = pca(data, std::min<int64_t>(2, data.size(1)));
    map.points = result.projected.size(1) == 2 ? result.projected
                                               : torch::cat({result.projected, torch::zeros({m, 1})}, 1);
    map.details["explained_variance_ratio"] = result.explained_variance_ratio;
  } else if (options.method == "umap") {
    const UmapOptions umap_options = map_umap_options(options);
    const UmapResult result = umap(data, umap_options);
    map.points = result.embedding;
    map.details["n_neighbors"] = umap_options.n_neighbors;
    map.details["min_dist"] = umap_options.min_dist;
    map.details["epochs"] = result.epochs;
    map.details["a"] = result.a;
    map.details["b"] = result.b;
    map.details["init"] = result.init;
    map.details["components"] = result.components;
    map.details["edges"] = result.edges;
    map.details["neighbours"] = result.neighbours;
  } else {
    const TsneOptions tsne_options = map_tsne_options(options);
    const TsneResult result = tsne(data, tsne_options);
    map.points = result.embedding;
    map.details["kl_divergence"] = result.kl_divergence;
    map.details["iterations"] = result.iterations;
    map.details["perplexity"] = tsne_options.perplexity;
  }
  map.seconds = seconds_since(start);
  map.details["seconds"] = map.seconds;

  const int64_t k = std::min<int64_t>(options.quality_k, (m - 1) / 2);  // trustworthiness needs k < N / 2
  map.details["k"] = k;
  map.details["trustworthiness"] = nullptr;
  if (m <= options.trustworthiness_limit) map.details["trustworthiness"] = trustworthiness(data, map.points, k);
  const bool labelled = std::all_of(point_labels.begin(), point_labels.end(), [](int64_t l) { return l >= 0; });
  map.details["knn_accuracy"] = nullptr;
  if (labelled) map.details["knn_accuracy"] = knn_accuracy(map.points, point_labels, static_cast<int>(k));
  return map;
}

void write_map_csv(const EmbeddingMap& map, const EmbeddingSet& set, const std::filesystem::path& file) {
  const at::Tensor points = map.points.contiguous();
  const float* xy = points.data_ptr<float>();
  std::ostringstream out;
  out << "row,index,x,y,label,class,source\n";
  out.precision(7);
  for (size_t i = 0; i < map.rows.size(); ++i) {
    const EmbeddedItem& item = set.items.at(static_cast<size_t>(map.rows[i]));
    out << map.rows[i] << ',' << item.index << ',' << xy[2 * i] << ',' << xy[2 * i + 1] << ',' << item.label << ','
        << csv_field(item.class_name) << ',' << csv_field(item.source) << '\n';
  }
  write_file_atomic(file, out.str());
}

void write_map_plot(const EmbeddingMap& map, const EmbeddingSet& set, const std::string& title,
                    const std::filesystem::path& file, const std::vector<MapThumbnail>& thumbnails) {
  // One series per class, in label order; unlabelled items as one series.
  std::map<int64_t, Series> by_label;
  const at::Tensor points = map.points.contiguous();
  const float* xy = points.data_ptr<float>();
  for (size_t i = 0; i < map.rows.size(); ++i) {
    const EmbeddedItem& item = set.items.at(static_cast<size_t>(map.rows[i]));
    Series& series = by_label[item.label];
    if (series.label.empty())
      series.label = item.label < 0 ? "(no label)" : item.class_name.empty() ? std::to_string(item.label) : item.class_name;
    series.x.push_back(xy[2 * i]);
    series.y.push_back(xy[2 * i + 1]);
  }
  std::vector<Series> classes;
  std::map<int64_t, std::size_t> series_of_label;
  for (auto& [label, series] : by_label) {
    series_of_label[label] = classes.size();
    classes.push_back(std::move(series));
  }
  std::vector<Thumbnail> drawn;
  for (const MapThumbnail& thumbnail : thumbnails) {
    const auto i = static_cast<size_t>(thumbnail.point);
    const int64_t label = set.items.at(static_cast<size_t>(map.rows.at(i))).label;
    drawn.push_back({xy[2 * i], xy[2 * i + 1], series_of_label.at(label), thumbnail.picture});
  }
  PlotOptions options;
  options.title = title;
  options.x_label = map.method == "umap" ? "UMAP 1" : "t-SNE 1";
  options.y_label = map.method == "umap" ? "UMAP 2" : "t-SNE 2";
  if (map.method == "pca") {  // with the share of the variance each axis shows
    const auto& ratio = map.details["explained_variance_ratio"];
    char text[64];
    std::snprintf(text, sizeof text, "principal component 1 (%.1f%% of the variance)", 100 * ratio[0].get<double>());
    options.x_label = text;
    std::snprintf(text, sizeof text, "principal component 2 (%.1f%% of the variance)",
                  ratio.size() > 1 ? 100 * ratio[1].get<double>() : 0.0);
    options.y_label = text;
  }
  write_scatter_plot(classes, options, file, drawn);
}

}  // namespace imret::viz
