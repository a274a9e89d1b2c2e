// pipeline::run_experiment: a plan of untrained baselines (epochs 0, quick)
// fills the table, a second run reuses every row whose key is unchanged and
// reruns the one whose settings changed, and plan mistakes are named.
#include <gtest/gtest.h>

#include <fstream>

#include "imret/core/setting_error.hpp"
#include "imret/pipeline/experiment_job.hpp"
#include "pipeline/small_data.hpp"
#include "support/errors.hpp"

namespace imret {
namespace {

namespace fs = std::filesystem;

class RowRecorder : public pipeline::RetrievalRunObserver {
 public:
  void row_reused(size_t, size_t, const pipeline::PlannedRow& row, const fs::path&) override {
    events.push_back("reused " + row.name);
  }
  void row_started(size_t, size_t, const pipeline::PlannedRow& row) override { events.push_back("started " + row.name); }
  std::vector<std::string> events;
};

fs::path write_plan(const std::string& name, const fs::path& data, const std::string& second_dim) {
  const fs::path plan = testing::scratch_path("pipeline", name + ".yaml");
  std::ofstream(plan) << "title: baselines\n"
                      << "data: " << data.string() << "\n"
                      << "query_limit: 40\n"
                      << "defaults: {epochs: 0, workers: 0, arch: convnet}\n"
                      << "experiments:\n"
                      << "  - {name: small, embedding_dim: 8}\n"
                      << "  - {name: large, embedding_dim: " << second_dim << ", metric: euclidean}\n";
  return plan;
}

TEST(ExperimentJob, ReusesRowsWhoseKeyIsUnchanged) {
  const fs::path data = testing::small_fashion_folder("pipeline", "plan", 80, 60);
  const fs::path out = testing::scratch_path("pipeline", "plan_out");
  RowRecorder first;
  const pipeline::ExperimentOutcome outcome =
      pipeline::run_experiment({write_plan("plan", data, "32").string(), out, {}, false}, first);
  EXPECT_EQ(first.events, (std::vector<std::string>{"started small", "started large"}));
  ASSERT_EQ(outcome.results.size(), 2u);
  EXPECT_EQ(outcome.results[1].metric, "euclidean");
  EXPECT_EQ(outcome.results[0].metric, "cosine");  // classification features: by angle
  for (const char* file : {"results.md", "results.csv", "results.json", "small/result.json", "large/metrics.json"})
    EXPECT_TRUE(fs::exists(out / file)) << file;

  RowRecorder second;
  const pipeline::ExperimentOutcome again =
      pipeline::run_experiment({write_plan("plan2", data, "16").string(), out, {}, false}, second);
  EXPECT_EQ(second.events, (std::vector<std::string>{"reused small", "started large"}));
  EXPECT_EQ(again.results[0].to_json(), outcome.results[0].to_json());
  EXPECT_EQ(again.results[1].settings["network"]["embedding_dim"], 16);
}

TEST(ExperimentJob, NamesAnUnknownRowAndPlanMistakes) {
  const fs::path data = testing::small_fashion_folder("pipeline", "plan_errors", 20, 20);
  const fs::path plan = write_plan("plan_errors", data, "8");
  RowRecorder recorder;
  try {
    pipeline::run_experiment({plan.string(), testing::scratch_path("pipeline", "plan_errors_out"), {"nope"}, false},
                             recorder);
    FAIL() << "an unknown row was accepted";
  } catch (const SettingError& e) {
    EXPECT_EQ(e.setting(), "only");
    EXPECT_EQ(std::string(e.what()), "only nope: " + plan.string() + " has no experiment of that name");
  }
  EXPECT_TRUE(recorder.events.empty());

  const fs::path twice = testing::scratch_path("pipeline", "plan_twice.yaml");
  std::ofstream(twice) << "experiments:\n  - {name: a}\n  - {name: a}\n";
  EXPECT_EQ(testing::error_of([&] { pipeline::load_plan(twice); }),
            twice.string() + ": experiment a: the name is used twice");
  const fs::path slash = testing::scratch_path("pipeline", "plan_slash.yaml");
  std::ofstream(slash) << "experiments:\n  - {name: a/b}\n";
  EXPECT_NE(testing::error_of([&] { pipeline::load_plan(slash); }).find("it names a folder"), std::string::npos);
}

}  // namespace
}  // namespace imret
