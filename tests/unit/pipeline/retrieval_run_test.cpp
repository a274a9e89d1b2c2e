// pipeline::train_embed_evaluate: one short run writes the whole run folder,
// tells its observer each step in order, and its embeddings record the
// checkpoint where the run will be, not where it was built.
#include <gtest/gtest.h>

#include <fstream>

#include "imret/data/idx.hpp"
#include "imret/pipeline/retrieval_run.hpp"
#include "learn/small_runs.hpp"
#include "pipeline/small_data.hpp"

namespace imret {
namespace {

namespace fs = std::filesystem;

class Recorder : public pipeline::RetrievalRunObserver {
 public:
  void step(int number, int total, const std::string& title) override {
    events.push_back("step " + std::to_string(number) + "/" + std::to_string(total) + " " + title.substr(0, 5));
  }
  void trained(const learn::TrainResult& result, const fs::path& run_dir) override {
    events.push_back("trained");
    best = result.best_checkpoint;
    final_dir = run_dir;
  }
  void evaluated(const pipeline::EvaluationOutcome& outcome) override {
    events.push_back("evaluated");
    metrics = outcome.metrics;
  }
  std::vector<std::string> events;
  fs::path best, final_dir;
  nlohmann::json metrics;
};

TEST(RetrievalRun, TrainsEmbedsAndEvaluatesIntoOneFolder) {
  const fs::path data = testing::small_fashion_folder("pipeline", "run", 300, 120);
  learn::TrainConfig config = testing::small_config();
  config.epochs = 1;
  pipeline::RetrievalRunRequest request;
  request.data = data.string();
  request.train_set = data::load_mnist_folder(data, "train");
  request.query_set = data::load_mnist_folder(data, "test");
  request.query_limit = 60;  // a stratified part
  const fs::path staging = testing::scratch_path("pipeline", "run_staging");
  const fs::path final_dir = testing::scratch_path("pipeline", "run_final");
  Recorder recorder;
  const pipeline::RetrievalRun run = pipeline::train_embed_evaluate(config, request, staging, final_dir, recorder);

  EXPECT_EQ(recorder.events, (std::vector<std::string>{"step 1/3 train", "trained", "step 2/3 embed", "step 3/3 evalu",
                                                       "evaluated"}));
  EXPECT_EQ(recorder.best, final_dir / "checkpoints" / "best.safetensors");
  EXPECT_EQ(run.trained.best_checkpoint, recorder.best);
  for (const char* file : {"checkpoints/best.safetensors", "train_log.csv", "metrics.json", "pr_curve.csv",
                           "embeddings/database/embeddings.npy", "embeddings/queries/items.jsonl"})
    EXPECT_TRUE(fs::exists(staging / file)) << file;
  const EmbeddingSet queries = load_embedding_set(staging / "embeddings" / "queries");
  const EmbeddingSet database = load_embedding_set(staging / "embeddings" / "database");
  // The stratified part of about 60: each class in proportion, rounded per class.
  const auto part = data::stratified_part(request.query_set, 60, config.seed);
  ASSERT_EQ(queries.items.size(), static_cast<size_t>(part->size()));
  EXPECT_LT(part->size(), request.query_set->size());
  for (size_t i = 0; i < queries.items.size(); ++i) EXPECT_EQ(queries.items[i].source, part->source(queries.items[i].index));
  EXPECT_EQ(database.items.size(), 300u);  // the training split, whole
  EXPECT_EQ(queries.meta["checkpoint"], fs::absolute(recorder.best).lexically_normal().string());
  EXPECT_EQ(recorder.metrics["queries"], part->size());
  EXPECT_EQ(recorder.metrics["metric"], "cosine");
  std::ifstream written(staging / "metrics.json");
  EXPECT_EQ(nlohmann::json::parse(written), recorder.metrics);
}

}  // namespace
}  // namespace imret
