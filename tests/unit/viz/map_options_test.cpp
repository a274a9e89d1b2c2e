// check_map_options: every requested map is checked against the point count
// before any is computed, with the messages map_embeddings would give.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/viz/embedding_map.hpp"
#include "support/errors.hpp"

using imret::testing::error_of;
using imret::viz::check_map_options;
using imret::viz::MapOptions;

TEST(MapOptions, TsnePerplexityMustBeBelowThePoints) {
  const MapOptions options;  // perplexity 30, as sklearn
  EXPECT_EQ(error_of([&] { check_map_options({"pca", "tsne"}, options, 12, 8); }),
            "t-SNE: perplexity must be positive and less than the number of points (12), got 30");
  EXPECT_NO_THROW(check_map_options({"pca", "tsne"}, options, 31, 8));
  MapOptions sampled;
  sampled.sample = 20;  // the points mapped, not the rows
  EXPECT_THROW(check_map_options({"tsne"}, sampled, 1000, 8), imret::UsageError);
}

TEST(MapOptions, UmapNeighboursAndPointsForAnyMap) {
  const MapOptions options;  // UMAP n_neighbors 15
  EXPECT_EQ(error_of([&] { check_map_options({"umap"}, options, 12, 8); }),
            "UMAP n_neighbors 15: must be less than the 12 points");
  EXPECT_NO_THROW(check_map_options({"umap"}, options, 16, 8));
  EXPECT_EQ(error_of([&] { check_map_options({"pca"}, options, 2, 8); }),
            "visualize: 2 points; a map needs at least 3");
  EXPECT_EQ(error_of([&] { check_map_options({"pca", "mds"}, options, 100, 8); }),
            "method mds: expected pca, tsne or umap");
}

TEST(MapOptions, MapEmbeddingsFailsAsTheCheckDoes) {
  torch::manual_seed(0);
  const at::Tensor embeddings = torch::randn({12, 8});
  MapOptions options;
  options.method = "tsne";
  EXPECT_EQ(error_of([&] { imret::viz::map_embeddings(embeddings, std::vector<int64_t>(12, 0), options); }),
            error_of([&] { check_map_options({"tsne"}, options, 12, 8); }));
}
