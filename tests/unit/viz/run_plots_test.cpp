#include "imret/viz/run_plots.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "imret/core/error.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using namespace imret;

namespace {

fs::path run_folder(const std::string& name) {
  const fs::path folder = imret::testing::scratch_path("run_plots", name);
  fs::remove_all(folder);
  fs::create_directories(folder);
  return folder;
}

void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

std::string error_of(const fs::path& folder) {
  try {
    viz::read_run(folder, "x");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(RunPlots, ReadsTheCurvesTheLogAndTheMetrics) {
  const fs::path run = run_folder("full");
  write(run / "pr_curve.csv", "recall,precision\n0,1\n0.5,0.75\n1,0.5\n");
  write(run / "train_log.csv", "epoch,train_loss,val_map_at_r,train_accuracy\n1,0.9,0.5,nan\n2,0.4,0.6,nan\n");
  write(run / "metrics.json",
        R"({"retrieval": {"mAP": 0.81, "mAP@R": 0.7, "P@K": {"1": 0.9, "5": 0.88}}, "knn": {"accuracy": 0.9}})");
  const viz::RunData data = viz::read_run(run, "full");
  EXPECT_EQ(data.recall, (std::vector<double>{0, 0.5, 1}));
  EXPECT_EQ(data.precision, (std::vector<double>{1, 0.75, 0.5}));
  EXPECT_EQ(data.log_column("epoch"), (std::vector<double>{1, 2}));
  EXPECT_EQ(data.log_column("train_loss"), (std::vector<double>{0.9, 0.4}));
  EXPECT_TRUE(std::isnan(data.log_column("train_accuracy")[0]));
  EXPECT_TRUE(data.log_column("no_such_column").empty());
  ASSERT_TRUE(data.has_metrics);
  EXPECT_DOUBLE_EQ(data.map, 0.81);
  EXPECT_DOUBLE_EQ(data.map_at_r, 0.7);
  EXPECT_DOUBLE_EQ(data.precision_at_1, 0.9);
  EXPECT_TRUE(std::isnan(data.precision_at_10));  // not in this run's metrics
}

TEST(RunPlots, APartialRunIsReadAsFarAsItGoes) {
  const fs::path run = run_folder("log-only");
  write(run / "train_log.csv", "epoch,train_loss\n1,0.5\n");
  const viz::RunData data = viz::read_run(run, "log-only");
  EXPECT_TRUE(data.recall.empty());
  EXPECT_FALSE(data.has_metrics);
  EXPECT_EQ(data.log_rows.size(), 1u);
}

TEST(RunPlots, BadRunFoldersNameTheFileAndTheProblem) {
  EXPECT_NE(error_of(run_folder("empty")).find("no pr_curve.csv, train_log.csv or metrics.json"), std::string::npos);
  EXPECT_NE(error_of(run_folder("none") / "missing").find("no such run folder"), std::string::npos);

  const fs::path ragged = run_folder("ragged");
  write(ragged / "train_log.csv", "epoch,train_loss\n1,0.5\n2\n");
  EXPECT_NE(error_of(ragged).find("train_log.csv:3: 1 fields, the header has 2"), std::string::npos) << error_of(ragged);

  const fs::path text = run_folder("text");
  write(text / "pr_curve.csv", "recall,precision\n0,high\n");
  EXPECT_NE(error_of(text).find("pr_curve.csv:2: 'high' is not a number"), std::string::npos) << error_of(text);

  const fs::path columns = run_folder("columns");
  write(columns / "pr_curve.csv", "precision,recall\n1,0\n");
  EXPECT_NE(error_of(columns).find("expected the columns recall,precision"), std::string::npos);

  const fs::path json = run_folder("json");
  write(json / "metrics.json", "{\"retrieval\": ");
  EXPECT_NE(error_of(json).find("metrics.json: malformed JSON"), std::string::npos) << error_of(json);
}
