#pragma once
// The demo (`imret demo`): the whole path on Fashion-MNIST in one run folder:
// train a small ConvNet classifier, embed the training set as the database
// and the test set as queries, evaluate the full ranking, index the database
// (RUN/index, for imret serve), and write the run's HTML report. The run is built aside and replaces the previous demo
// run only when complete.
#include <filesystem>
#include <string>

#include "imret/data/idx.hpp"
#include "imret/learn/train_config.hpp"
#include "imret/pipeline/retrieval_run.hpp"
#include "imret/search/index.hpp"

namespace imret::pipeline {

// The demo's training: the ConvNet, Adam 1e-3 with a cosine schedule, 3 epochs.
learn::TrainConfig demo_training();

struct DemoRequest {
  std::string data = data::kDefaultFashionMnist;
  std::filesystem::path out = "runs/demo";
  bool quick = false;   // 1 epoch on 6,000 images, a 10,000-item database, 1,000 queries
  bool report = true;   // report/index.html (needs cairo)
  learn::TrainConfig config = demo_training();
  // Classification-trained features rank better by angle than by length.
  search::Metric metric = search::Metric::Cosine;
};

struct DemoOutcome {
  bool report = false;         // report/index.html was written
  std::string report_problem;  // why not, when one was asked for
  double seconds = 0;
};

// The demo's database as an exact index of `metric` in RUN/index (the folder
// `imret serve` takes), written into the run being built; `final_run` is
// where the run will be, as the manifest records its source.
void write_database_index(const std::filesystem::path& run, const std::filesystem::path& final_run,
                          search::Metric metric);

// Runs the demo. A report that fails leaves the run complete without one
// (report_problem says why).
DemoOutcome run_demo(const DemoRequest& request, RetrievalRunObserver& observer);

}  // namespace imret::pipeline
