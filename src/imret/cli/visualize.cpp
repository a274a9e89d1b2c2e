// imret visualize: 2-D maps (PCA, t-SNE, UMAP) of an embedding folder, as CSV
// coordinates and scatter plots coloured by class, with how faithful each map
// is (trustworthiness, k-NN accuracy in 2-D).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "imret/cli/commands.hpp"
#include "imret/core/error.hpp"
#include "imret/pipeline/visualize_job.hpp"

namespace fs = std::filesystem;

namespace imret::cli {
namespace {

struct VisualizeArgs {
  pipeline::VisualizeRequest request;
  std::string out;
  std::string learning_rate = "auto";
};

// t-SNE's learning rate: a number, or auto (0 for the library).
double parse_learning_rate(const std::string& text) {
  if (text == "auto") return 0;
  double rate = 0;
  try {
    rate = std::stod(text);
  } catch (const std::exception&) {
    throw UsageError("--learning-rate " + text + ": expected a number or auto");
  }
  if (rate <= 0) throw UsageError("--learning-rate must be > 0 (or auto)");
  return rate;
}

void run_visualize(const VisualizeArgs& args) {
  pipeline::VisualizeRequest request = args.request;
  request.map.tsne.learning_rate = parse_learning_rate(args.learning_rate);
  const fs::path target = args.out.empty() ? pipeline::default_visualize_folder(request.embeddings) : fs::path(args.out);
  pipeline::visualize_to_folder(request, target, [&](const pipeline::MapWritten& map) {
    std::string files;
    for (const auto& file : map.files) files += (files.empty() ? "" : ", ") + file;
    std::printf("%-5s %lld points in %.1f s; %s\n      -> %s/{%s}\n", map.method.c_str(),
                static_cast<long long>(map.points), map.seconds, pipeline::map_quality_text(map.details).c_str(),
                target.string().c_str(), files.c_str());
    std::fflush(stdout);
  });
}

}  // namespace

void add_visualize_command(CLI::App& app) {
  auto args = std::make_shared<VisualizeArgs>();
  CLI::App* command =
      app.add_subcommand("visualize", "2-D maps (PCA, t-SNE, UMAP) of an embedding folder: CSV + scatter plots by class");
  command->add_option("embeddings", args->request.embeddings, "Embedding folder (from imret embed)")->required();
  command->add_option("-m,--method", args->request.methods, "pca, tsne and/or umap (comma-separated or repeated)")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("-o,--out", args->out, "Output folder (default: EMBEDDINGS/visualize)");
  command->add_option("--format", args->request.formats, "Plot formats: png and/or svg")->delimiter(',')->capture_default_str();
  command->add_option("--title", args->request.title, "Name in the plot titles (default: the folder)");
  command->add_flag("--drop-nonfinite", args->request.drop_nonfinite,
                    "Leave out embeddings with NaN or infinite values (default: refuse them)");
  command->add_option("--sample", args->request.map.sample, "Map a random subset of this many points (0: all)")
      ->capture_default_str();
  command->add_option("--seed", args->request.map.seed, "Random seed (sample, t-SNE, UMAP)")->capture_default_str();
  command->add_option("--thumbnails", args->request.thumbnails,
                      "Draw the images of up to this many spread-out points over the map (their data must be at hand)")
      ->capture_default_str();
  command->add_option("--quality-k", args->request.map.quality_k, "Neighbours for trustworthiness and k-NN accuracy")
      ->capture_default_str();
  command->add_option("--trustworthiness-limit", args->request.map.trustworthiness_limit,
                      "Compute trustworthiness (N^2 work) up to this many points")
      ->capture_default_str();
  command->add_option("--perplexity", args->request.map.tsne.perplexity, "t-SNE perplexity")->capture_default_str();
  command->add_option("--iterations", args->request.map.tsne.iterations, "t-SNE iterations")->capture_default_str();
  command->add_option("--early-exaggeration", args->request.map.tsne.early_exaggeration, "t-SNE early exaggeration")
      ->capture_default_str();
  command->add_option("--learning-rate", args->learning_rate, "t-SNE learning rate, or auto (max(N / 48, 50))")
      ->capture_default_str();
  command->add_option("--tsne-method", args->request.map.tsne.method, "barnes_hut or exact (O(N^2), small sets)")
      ->capture_default_str();
  command->add_option("--angle", args->request.map.tsne.angle, "Barnes-Hut angle (accuracy/speed)")->capture_default_str();
  command->add_option("--init", args->request.map.tsne.init, "t-SNE initialisation: pca or random")->capture_default_str();
  command->add_option("--n-neighbors", args->request.map.umap.n_neighbors, "UMAP neighbours (the point itself included)")
      ->capture_default_str();
  command->add_option("--min-dist", args->request.map.umap.min_dist, "UMAP min_dist (how tightly points pack)")
      ->capture_default_str();
  command->add_option("--spread", args->request.map.umap.spread, "UMAP spread")->capture_default_str();
  command->add_option("--umap-epochs", args->request.map.umap.n_epochs, "UMAP epochs (0: 500 up to 10,000 points, 200 above)")
      ->capture_default_str();
  command->add_option("--umap-init", args->request.map.umap.init, "UMAP initialisation: spectral or random")
      ->capture_default_str();
  command->add_option("--umap-metric", args->request.map.umap.metric, "UMAP input metric: euclidean or cosine")
      ->capture_default_str();
  command->add_option("--umap-neighbours", args->request.map.umap.neighbours,
                      "UMAP neighbour search: auto, exact, projected or hnsw (FAISS)")
      ->capture_default_str();
  command->callback([args] { run_visualize(*args); });
}

}  // namespace imret::cli
