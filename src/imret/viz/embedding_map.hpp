#pragma once
// A 2-D map of an embedding set (PCA, t-SNE or UMAP) for people to look at: the
// coordinates, how faithful they are (trustworthiness, k-NN accuracy in 2-D),
// and the files `imret visualize` writes (CSV, scatter plot).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/viz/map_thumbnails.hpp"
#include "imret/viz/tsne.hpp"
#include "imret/viz/umap.hpp"

namespace imret::viz {

struct MapOptions {
  std::string method = "pca";  // "pca" | "tsne" | "umap"
  int64_t sample = 0;          // > 0: map a random subset of this many rows (seeded)
  uint64_t seed = 0;
  TsneOptions tsne;            // method "tsne" (its seed is `seed`)
  UmapOptions umap;            // method "umap" (its seed is `seed`; 2 components)
  int64_t quality_k = 10;      // neighbours of trustworthiness and of the 2-D k-NN accuracy
  // Trustworthiness ranks every pair of points (N^2): computed up to this many points.
  int64_t trustworthiness_limit = 10000;
};

struct EmbeddingMap {
  std::string method;
  at::Tensor points;          // M x 2 float32
  std::vector<int64_t> rows;  // the embedding-set row of each point (ascending)
  double seconds = 0;         // the projection alone
  nlohmann::json details;     // method specifics and quality numbers (see map_embeddings)
};

// Projects `embeddings` (N x D) to 2-D. `labels` (N, -1 = none) feed the 2-D
// k-NN accuracy. details: {"method", "points", "seconds", "trustworthiness"
// (null above the limit), "knn_accuracy", "k"} plus PCA's
// "explained_variance_ratio", t-SNE's "kl_divergence", "iterations",
// "perplexity", or UMAP's "n_neighbors", "min_dist", "epochs", "a", "b",
// "init", "components" (of the graph), "edges", "neighbours". Throws UsageError for an unknown method or bad options.
EmbeddingMap map_embeddings(const at::Tensor& embeddings, const std::vector<int64_t>& labels, const MapOptions& options);

// Checks, before any map is computed, that every one of `methods` ("pca",
// "tsne", "umap") can map `rows` x `features` embeddings with `options` (the
// points after options.sample): a known method, at least 3 points for any map,
// t-SNE's perplexity below the points (check_tsne_options), UMAP's n_neighbors
// below them (check_umap_options). Throws UsageError naming the method's
// setting, as map_embeddings would, but before a first map is written.
void check_map_options(const std::vector<std::string>& methods, const MapOptions& options, int64_t rows,
                       int64_t features);

// CSV: "row,index,x,y,label,class,source", one line per point (atomic write).
void write_map_csv(const EmbeddingMap& map, const EmbeddingSet& set, const std::filesystem::path& file);

// Scatter plot coloured by class, with a legend (PNG or SVG by extension);
// `thumbnails` (map_thumbnails.hpp) drawn over the dots, framed in their
// class colour.
void write_map_plot(const EmbeddingMap& map, const EmbeddingSet& set, const std::string& title,
                    const std::filesystem::path& file, const std::vector<MapThumbnail>& thumbnails = {});

}  // namespace imret::viz
