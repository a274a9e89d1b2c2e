#include "imret/pipeline/retrieval_run.hpp"

#include "imret/core/runtime.hpp"
#include "imret/models/checkpoint.hpp"
#include "imret/pipeline/embed_job.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

RetrievalRun train_embed_evaluate(const learn::TrainConfig& config, const RetrievalRunRequest& request,
                                  const fs::path& run_dir, const fs::path& final_run_dir,
                                  RetrievalRunObserver& observer) {
  RetrievalRun run;
  observer.step(1, 3,
                "train: " + config.network.arch + ", method " + config.method + ", " + std::to_string(config.epochs) +
                    " epochs");
  run.trained = learn::train_embedding(config, request.train_set, run_dir);
  const fs::path checkpoint = run.trained.best_checkpoint;  // where it is now
  // Reported where the run will be once its folder is published.
  run.trained.last_checkpoint = final_run_dir / "checkpoints" / run.trained.last_checkpoint.filename();
  run.trained.best_checkpoint = final_run_dir / "checkpoints" / checkpoint.filename();
  observer.trained(run.trained, final_run_dir);

  const std::string database_split = request.database_split.empty() ? request.train_split : request.database_split;
  const auto database_set = request.database_set ? request.database_set : request.train_set;
  observer.step(2, 3, "embed: database = " + database_split + " split, queries = " + request.query_split + " split");
  const models::LoadedNetwork loaded = models::load_checkpoint(checkpoint);
  models::EmbedOptions options;
  options.batch_size = 512;
  options.workers = config.workers;
  options.device = parse_device(config.device);
  const std::string checkpoint_path = fs::absolute(run.trained.best_checkpoint).lexically_normal().string();
  const auto embed = [&](const std::string& part, std::shared_ptr<const data::Dataset> set, int64_t limit,
                         const std::string& split) {
    options.label = "embed " + part;
    embed_dataset_to_folder(loaded, data::stratified_part(set, limit, config.seed),
                            {{"data", request.data}, {"split", split}, {"checkpoint", checkpoint_path}}, options,
                            run_dir / "embeddings" / part, {request.data});
  };
  embed("database", database_set, request.database_limit, database_split);
  embed("queries", request.query_set, request.query_limit, request.query_split);

  observer.step(3, 3, "evaluate: every query against the whole database (full ranking, " +
                          search::to_string(request.metric) + ")");
  EvaluationRequest evaluation;
  evaluation.metric = request.metric;
  evaluation.device = config.device;
  const EmbeddingSet database = load_embedding_set(run_dir / "embeddings" / "database");
  const EmbeddingSet queries = load_embedding_set(run_dir / "embeddings" / "queries");
  run.evaluation = evaluate_to_folder(queries, database, evaluation, run_dir);
  observer.evaluated(run.evaluation);
  return run;
}

}  // namespace imret::pipeline
