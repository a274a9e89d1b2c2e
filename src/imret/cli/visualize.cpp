// imret visualize: 2-D maps (PCA, t-SNE, UMAP) of an embedding folder, as CSV
// coordinates and scatter plots coloured by class, with how faithful each map
// is (trustworthiness, k-NN accuracy in 2-D).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/core/atomic_file.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/viz/embedding_map.hpp"
#include "imret/viz/item_pictures.hpp"
#include "imret/viz/map_thumbnails.hpp"
#include "imret/viz/plot.hpp"

namespace fs = std::filesystem;

namespace imret::cli {
namespace {

struct VisualizeArgs {
  std::string embeddings;
  std::vector<std::string> methods = {"pca", "tsne"};
  std::string out;
  std::vector<std::string> formats = {"png", "svg"};
  std::string title;
  viz::MapOptions map;
  bool drop_nonfinite = false;
  std::string tsne_method = "barnes_hut";
  std::string learning_rate = "auto";
  int64_t thumbnails = 0;
};

std::string method_title(const std::string& method) {
  return method == "pca" ? "PCA" : method == "umap" ? "UMAP" : "t-SNE";
}

std::string quality_text(const nlohmann::json& details) {
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

void run_visualize(const VisualizeArgs& args) {
  for (const auto& format : args.formats)
    if (format != "png" && format != "svg") throw UsageError("--format " + format + ": expected png or svg");
  const bool plots = !args.formats.empty() && viz::has_plots();
  if (!args.formats.empty() && !plots)
    std::fprintf(stderr, "imret: warning: this build has no plots (cairo); writing the CSV files only\n");

  viz::MapOptions options = args.map;
  if (args.tsne_method != "barnes_hut" && args.tsne_method != "exact")
    throw UsageError("--tsne-method " + args.tsne_method + ": expected barnes_hut or exact");
  options.tsne.method = args.tsne_method;
  if (args.learning_rate == "auto") {
    options.tsne.learning_rate = 0;
  } else {
    try {
      options.tsne.learning_rate = std::stod(args.learning_rate);
    } catch (const std::exception&) {
      throw UsageError("--learning-rate " + args.learning_rate + ": expected a number or auto");
    }
    if (options.tsne.learning_rate <= 0) throw UsageError("--learning-rate must be > 0 (or auto)");
  }
  if (args.thumbnails < 0) throw UsageError("--thumbnails must be >= 0");
  const EmbeddingSet set = load_embedding_set(args.embeddings, {args.drop_nonfinite});
  // Every map's settings against the points, before a first map is computed.
  viz::check_map_options(args.methods, options, set.embeddings.rows, set.embeddings.cols);
  // Opened before the (slow) maps: a set whose images are gone fails first.
  std::unique_ptr<viz::ItemPictures> pictures;
  if (args.thumbnails > 0 && plots) pictures = std::make_unique<viz::ItemPictures>(set, args.embeddings);
  const at::Tensor embeddings = embeddings_tensor(set);
  const fs::path target = args.out.empty() ? fs::path(args.embeddings) / "visualize" : fs::path(args.out);
  // The maps are written aside and replace an earlier visualize folder only when all are done.
  OutputRules rules;
  rules.kind = "visualization";
  rules.command = "visualize";
  rules.replace = true;
  rules.inputs = {args.embeddings};
  // Written before markers: the maps and visualize.json, nothing else.
  rules.legacy = [](const fs::path& folder) {
    return only_entries(folder, {"visualize.json"},
                        {"pca.csv", "pca.png", "pca.svg", "tsne.csv", "tsne.png", "tsne.svg", "umap.csv", "umap.png",
                         "umap.svg"},
                        "visualize.json");
  };
  OutputFolder output(target, rules);
  const fs::path& out = output.path();
  const std::string name = args.title.empty() ? fs::path(args.embeddings).lexically_normal().string() : args.title;

  nlohmann::json summary = nlohmann::json::object();
  for (const auto& method : args.methods) {
    options.method = method;
    const viz::EmbeddingMap map = viz::map_embeddings(embeddings, set.labels(), options);
    viz::write_map_csv(map, set, out / (method + ".csv"));
    std::string written = method + ".csv";
    if (plots) {
      const std::string title = method_title(method) + " of " + name + " (" + std::to_string(map.rows.size()) + " points)";
      const std::vector<viz::MapThumbnail> thumbnails =
          pictures ? viz::map_thumbnails(map, *pictures, args.thumbnails, options.seed) : std::vector<viz::MapThumbnail>{};
      for (const auto& format : args.formats) {
        viz::write_map_plot(map, set, title, out / (method + "." + format), thumbnails);
        written += ", " + method + "." + format;
      }
    }
    summary[method] = map.details;
    std::printf("%-5s %lld points in %.1f s; %s\n      -> %s/{%s}\n", method.c_str(),
                static_cast<long long>(map.rows.size()), map.seconds, quality_text(map.details).c_str(),
                target.string().c_str(), written.c_str());
    std::fflush(stdout);
  }
  write_file_atomic(out / "visualize.json", dump_json(summary, 2) + "\n");
  output.publish();
}

}  // namespace

void add_visualize_command(CLI::App& app) {
  auto args = std::make_shared<VisualizeArgs>();
  CLI::App* command =
      app.add_subcommand("visualize", "2-D maps (PCA, t-SNE, UMAP) of an embedding folder: CSV + scatter plots by class");
  command->add_option("embeddings", args->embeddings, "Embedding folder (from imret embed)")->required();
  command->add_option("-m,--method", args->methods, "pca, tsne and/or umap (comma-separated or repeated)")
      ->delimiter(',')
      ->capture_default_str();
  command->add_option("-o,--out", args->out, "Output folder (default: EMBEDDINGS/visualize)");
  command->add_option("--format", args->formats, "Plot formats: png and/or svg")->delimiter(',')->capture_default_str();
  command->add_option("--title", args->title, "Name in the plot titles (default: the folder)");
  command->add_flag("--drop-nonfinite", args->drop_nonfinite,
                    "Leave out embeddings with NaN or infinite values (default: refuse them)");
  command->add_option("--sample", args->map.sample, "Map a random subset of this many points (0: all)")
      ->capture_default_str();
  command->add_option("--seed", args->map.seed, "Random seed (sample, t-SNE, UMAP)")->capture_default_str();
  command->add_option("--thumbnails", args->thumbnails,
                      "Draw the images of up to this many spread-out points over the map (their data must be at hand)")
      ->capture_default_str();
  command->add_option("--quality-k", args->map.quality_k, "Neighbours for trustworthiness and k-NN accuracy")
      ->capture_default_str();
  command->add_option("--trustworthiness-limit", args->map.trustworthiness_limit,
                      "Compute trustworthiness (N^2 work) up to this many points")
      ->capture_default_str();
  command->add_option("--perplexity", args->map.tsne.perplexity, "t-SNE perplexity")->capture_default_str();
  command->add_option("--iterations", args->map.tsne.iterations, "t-SNE iterations")->capture_default_str();
  command->add_option("--early-exaggeration", args->map.tsne.early_exaggeration, "t-SNE early exaggeration")
      ->capture_default_str();
  command->add_option("--learning-rate", args->learning_rate, "t-SNE learning rate, or auto (max(N / 48, 50))")
      ->capture_default_str();
  command->add_option("--tsne-method", args->tsne_method, "barnes_hut or exact (O(N^2), small sets)")
      ->capture_default_str();
  command->add_option("--angle", args->map.tsne.angle, "Barnes-Hut angle (accuracy/speed)")->capture_default_str();
  command->add_option("--init", args->map.tsne.init, "t-SNE initialisation: pca or random")->capture_default_str();
  command->add_option("--n-neighbors", args->map.umap.n_neighbors, "UMAP neighbours (the point itself included)")
      ->capture_default_str();
  command->add_option("--min-dist", args->map.umap.min_dist, "UMAP min_dist (how tightly points pack)")
      ->capture_default_str();
  command->add_option("--spread", args->map.umap.spread, "UMAP spread")->capture_default_str();
  command->add_option("--umap-epochs", args->map.umap.n_epochs, "UMAP epochs (0: 500 up to 10,000 points, 200 above)")
      ->capture_default_str();
  command->add_option("--umap-init", args->map.umap.init, "UMAP initialisation: spectral or random")
      ->capture_default_str();
  command->add_option("--umap-metric", args->map.umap.metric, "UMAP input metric: euclidean or cosine")
      ->capture_default_str();
  command->add_option("--umap-neighbours", args->map.umap.neighbours,
                      "UMAP neighbour search: auto, exact, projected or hnsw (FAISS)")
      ->capture_default_str();
  command->callback([args] { run_visualize(*args); });
}

}  // namespace imret::cli
