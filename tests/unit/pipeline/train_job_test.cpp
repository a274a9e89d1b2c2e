// pipeline::train_to_folder: a new run, a folder that already holds one
// (refused with what a front end needs to say how to go on, or replaced), a
// resumed run that goes on in its own folder, and a checkpoint outside any run.
#include <gtest/gtest.h>

#include "imret/core/setting_error.hpp"
#include "imret/data/idx.hpp"
#include "imret/pipeline/train_job.hpp"
#include "learn/small_runs.hpp"
#include "pipeline/small_data.hpp"

namespace imret {
namespace {

namespace fs = std::filesystem;

pipeline::TrainRequest small_request(const fs::path& data, const fs::path& out, int64_t epochs) {
  pipeline::TrainRequest request;
  request.config = testing::small_config();
  request.config.epochs = epochs;
  request.data = data.string();
  request.out = out;
  return request;
}

TEST(TrainJob, ExistingRunsAreContinuedOrReplacedOnlyWhenAsked) {
  const fs::path data = testing::small_fashion_folder("pipeline", "train", 200, 10);
  const auto dataset = data::load_mnist_folder(data, "train");
  const fs::path run = testing::scratch_path("pipeline", "train_run");
  const pipeline::TrainOutcome first = pipeline::train_to_folder(small_request(data, run, 1), dataset);
  EXPECT_EQ(first.run_dir, fs::absolute(run).lexically_normal());
  EXPECT_EQ(first.result.history.size(), 1u);
  EXPECT_TRUE(fs::exists(run / "config.yaml"));
  const fs::path last = first.run_dir / "checkpoints" / "last.safetensors";
  EXPECT_EQ(first.result.last_checkpoint, last);

  try {
    pipeline::train_to_folder(small_request(data, run, 1), dataset);
    FAIL() << "a trained run was overwritten";
  } catch (const pipeline::RunExistsError& e) {
    EXPECT_EQ(e.run_dir, first.run_dir);
    EXPECT_EQ(e.last_checkpoint, last);
    EXPECT_EQ(std::string(e.what()).find("--"), std::string::npos) << e.what();
  }

  // Resumed without a folder: it goes on in the checkpoint's run, to epoch 2.
  pipeline::TrainRequest resume = small_request(data, {}, 2);
  resume.resume = last.string();
  const pipeline::TrainOutcome resumed = pipeline::train_to_folder(resume, dataset);
  EXPECT_EQ(resumed.run_dir, first.run_dir);
  EXPECT_EQ(resumed.result.history.size(), 2u);

  pipeline::TrainRequest replace = small_request(data, run, 1);
  replace.replace = true;
  EXPECT_EQ(pipeline::train_to_folder(replace, dataset).result.history.size(), 1u);
}

TEST(TrainJob, ACheckpointOutsideARunNeedsAFolder) {
  pipeline::TrainRequest request;
  request.resume = testing::scratch_path("pipeline", "loose.safetensors").string();
  try {
    pipeline::train_run_folder(request);
    FAIL() << "a run folder was made up";
  } catch (const SettingError& e) {
    EXPECT_EQ(e.setting(), "out");
    EXPECT_NE(std::string(e.what()).find("say where the run goes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace imret
