#include "imret/pipeline/demo_job.hpp"

#include <chrono>

#include "imret/core/atomic_file.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/embedding_tensor.hpp"
#include "imret/core/error.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/yaml.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/preprocess_defaults.hpp"
#include "imret/learn/run_folder.hpp"
#include "imret/search/index_store.hpp"
#include "imret/viz/plot.hpp"
#include "imret/viz/run_report.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

learn::TrainConfig demo_training() {
  learn::TrainConfig config;
  config.schedule = "cosine";
  return config;
}

void write_database_index(const fs::path& run, const fs::path& final_run, search::Metric metric) {
  const EmbeddingSet database = load_embedding_set(run / "embeddings" / "database");
  auto index = search::make_index("exact", c10::kCPU, metric);
  index->add(embeddings_tensor(database));
  search::IndexManifest manifest;
  manifest.sources = {(final_run / "embeddings" / "database").string()};
  manifest.embedding_meta = database.meta;
  search::write_index_files(run / "index", *index, manifest, database.items);
}

DemoOutcome run_demo(const DemoRequest& request, RetrievalRunObserver& observer) {
  const auto start = std::chrono::steady_clock::now();
  learn::TrainConfig config = request.config;
  if (request.quick) {
    config.epochs = 1;
    config.limit = 6000;
  }
  auto train_set = data::open_dataset(request.data, "train");
  auto test_set = data::open_dataset(request.data, "test", train_set->classes());
  config.preprocess = data::PreprocessChoice{}.resolve(train_set->channels());
  config.validate();
  OutputFolder out(request.out, learn::run_folder_rules("demo", "demo", true, "", {request.data}));
  write_file_atomic(out.path() / "config.yaml",
                    to_yaml({{"command", "demo"}, {"data", request.data}, {"quick", request.quick},
                             {"metric", search::to_string(request.metric)}, {"train", config.to_json()}}));

  RetrievalRunRequest run;
  run.data = request.data;
  run.train_set = train_set;
  run.query_set = test_set;
  run.metric = request.metric;
  if (request.quick) {
    run.database_limit = 10000;
    run.query_limit = 1000;
  }
  train_embed_evaluate(config, run, out.path(), out.target(), observer);
  write_database_index(out.path(), out.target(), request.metric);
  DemoOutcome outcome;
  if (request.report && viz::has_plots()) {
    observer.reporting();
    const fs::path normal = request.out.lexically_normal();
    const std::string name = (normal.has_filename() ? normal.filename() : normal.parent_path().filename()).string();
    try {
      viz::write_run_report({name, out.path(), out.target()}, out.path() / "report", viz::ReportOptions{});
      outcome.report = true;
    } catch (const Error& e) {  // the run itself is complete: keep it, say what is missing
      outcome.report_problem = e.what();
    }
  } else if (request.report) {
    outcome.report_problem = "this build has no plots (cairo)";
  }
  out.publish();
  outcome.seconds = seconds_since(start);
  return outcome;
}

}  // namespace imret::pipeline
