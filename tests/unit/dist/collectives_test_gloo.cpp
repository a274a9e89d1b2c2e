// Real processes over c10d (Gloo, loopback): each test starts this program
// again as 2 or 3 workers through dist::run_local_workers (the launcher of
// imret train --nproc-per-node), each running DISABLED_Worker.Run with the
// case named in IMRET_DIST_CASE; a worker's failed expectation fails its
// exit status, which the launcher reports.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "imret/dist/communicator.hpp"
#include "imret/dist/gradient_sync.hpp"
#include "imret/dist/local_launcher.hpp"
#include "imret/dist/world.hpp"
#include "imret/learn/data_parallel.hpp"
#include "imret/learn/distance.hpp"
#include "imret/learn/miner.hpp"
#include "imret/models/batch_norm.hpp"

namespace imret::dist {
namespace {
namespace fs = std::filesystem;

// Runs `processes` workers of `test_case`; their exit status (0: all passed).
int run_case(const std::string& test_case, int processes, const fs::path& out = {}) {
  setenv("IMRET_DIST_CASE", test_case.c_str(), 1);
  setenv("IMRET_DIST_OUT", out.c_str(), 1);
  LocalLaunch launch;
  launch.processes = processes;
  launch.program = fs::read_symlink("/proc/self/exe").string();
  launch.arguments = {"--gtest_also_run_disabled_tests", "--gtest_filter=DISABLED_Worker.Run"};
  launch.grace = std::chrono::seconds(20);
  return run_local_workers(launch);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The global batch every case splits: the same on every rank (fixed seed).
at::Tensor global_batch(int64_t rows, int64_t cols, uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randn({rows, cols}, generator);
}

// Rows [n * r / world, n * (r + 1) / world): this rank's part.
at::Tensor part(const at::Tensor& all, const Communicator& group) {
  const int64_t n = all.size(0);
  const int64_t begin = n * group.rank() / group.world_size(), end = n * (group.rank() + 1) / group.world_size();
  return all.narrow(0, begin, end - begin);
}

TEST(Collectives, GatherRowsOfDifferentSizesKeepsGradients) { EXPECT_EQ(run_case("gather", 3), 0); }
TEST(Collectives, SummedGradientsEqualOneProcess) { EXPECT_EQ(run_case("gradients", 2), 0); }
TEST(Collectives, GatheredMinersPickTheOneProcessTuples) { EXPECT_EQ(run_case("miner", 2), 0); }
TEST(Collectives, SynchronisedBatchNormEqualsOneProcess) { EXPECT_EQ(run_case("batchnorm", 2), 0); }

TEST(Collectives, AKilledRankIsNamed) {
  const fs::path out = fs::temp_directory_path() / ("imret_dist_" + std::to_string(getpid()));
  fs::create_directories(out);
  const int status = run_case("death", 2, out);
  EXPECT_EQ(status, 128 + SIGKILL);  // rank 1's, the first to fail
  const std::string message = read_text(out / "rank0.txt");
  EXPECT_NE(message.find("rank 1 stopped"), std::string::npos) << message;
  fs::remove_all(out);
}

TEST(Collectives, AFailedRanksErrorReachesTheOthers) {
  const fs::path out = fs::temp_directory_path() / ("imret_dist_f" + std::to_string(getpid()));
  fs::create_directories(out);
  EXPECT_EQ(run_case("error", 2, out), 1);
  const std::string message = read_text(out / "rank0.txt");
  EXPECT_NE(message.find("rank 1 failed: the disk is full"), std::string::npos) << message;
  fs::remove_all(out);
}

// ------------------------------------------------------------------ workers

void gather_case(Communicator& group) {
  // Rank r holds r + 1 rows (rank 0 one, rank 2 three).
  const at::Tensor all = global_batch(6, 4, 7);
  const int64_t begin = group.rank() * (group.rank() + 1) / 2;
  at::Tensor local = all.narrow(0, begin, group.rank() + 1).clone().requires_grad_(true);
  int64_t offset = -1;
  at::Tensor gathered = gather_rows(group, local, &offset);
  EXPECT_EQ(offset, begin);
  EXPECT_TRUE(torch::equal(gathered.detach(), all));
  const at::Tensor weights = global_batch(6, 4, 8);
  (gathered * weights).sum().backward();
  EXPECT_TRUE(torch::allclose(local.grad(), weights.narrow(0, begin, group.rank() + 1)));
}

void gradients_case(Communicator& group) {
  const at::Tensor inputs = global_batch(10, 5, 1), targets = global_batch(10, 3, 2);
  torch::manual_seed(0);
  torch::nn::Sequential reference(torch::nn::Linear(5, 4), torch::nn::Tanh(), torch::nn::Linear(4, 3));
  torch::manual_seed(0);
  torch::nn::Sequential model(torch::nn::Linear(5, 4), torch::nn::Tanh(), torch::nn::Linear(4, 3));
  // One process on the whole batch.
  torch::mse_loss(reference->forward(inputs), targets).backward();
  // This rank's part, the loss on the gathered outputs, gradients summed
  // (a 16-byte bucket limit: one bucket per parameter, several all-reduces).
  auto group_ptr = std::shared_ptr<Communicator>(&group, [](Communicator*) {});
  GradientSync sync(group_ptr, model->parameters(), Reduce::Sum, 16);
  EXPECT_EQ(sync.buckets(), 4);
  for (int step = 0; step < 2; ++step) {  // twice: the buckets are reused
    for (auto& p : model->parameters()) p.mutable_grad() = at::Tensor();
    const at::Tensor outputs = gather_rows(group, model->forward(part(inputs, group)));
    torch::mse_loss(outputs, targets).backward();
    sync.finish();
    const auto expected = reference->parameters();
    const auto got = model->parameters();
    for (size_t k = 0; k < got.size(); ++k)
      EXPECT_TRUE(torch::allclose(got[k].grad(), expected[k].grad(), 1e-5, 1e-7)) << "parameter " << k;
  }
}

void miner_case(Communicator& group) {
  const at::Tensor embeddings = torch::nn::functional::normalize(global_batch(24, 8, 3),
                                                                 torch::nn::functional::NormalizeFuncOptions().dim(1));
  const at::Tensor labels = torch::arange(24, torch::kLong).remainder(4);
  const at::Tensor gathered = gather_rows(group, part(embeddings, group));
  const at::Tensor gathered_labels = gather_rows(group, part(labels, group));
  const auto distance = learn::make_distance("euclidean");
  for (const char* name : {"batch-hard", "semi-hard", "distance-weighted"}) {
    const auto one = learn::make_triplet_miner(name, 11)->mine(embeddings, labels, *distance, 0.2);
    const auto all = learn::make_triplet_miner(name, 11)->mine(gathered, gathered_labels, *distance, 0.2);
    EXPECT_GT(one.anchor.numel(), 0) << name;
    EXPECT_TRUE(torch::equal(one.anchor, all.anchor)) << name;
    EXPECT_TRUE(torch::equal(one.positive, all.positive)) << name;
    EXPECT_TRUE(torch::equal(one.negative, all.negative)) << name;
  }
}

void batchnorm_case(Communicator& group) {
  const at::Tensor images = global_batch(8, 3 * 4 * 4, 5).view({8, 3, 4, 4}) * 2 + 1;
  const at::Tensor weights = global_batch(8, 3 * 4 * 4, 6).view({8, 3, 4, 4});
  torch::manual_seed(0);
  torch::nn::BatchNorm2d reference(3);
  models::BatchNorm synced(3);
  auto group_ptr = std::shared_ptr<Communicator>(&group, [](Communicator*) {});
  EXPECT_EQ(models::synchronize_batch_norm(*synced, learn::statistics_sum(group_ptr)), 1);
  at::Tensor x_all = images.clone().requires_grad_(true);
  (reference->forward(x_all) * weights).sum().backward();
  at::Tensor x = part(images, group).clone().requires_grad_(true);
  at::Tensor y = gather_rows(group, synced->forward(x));
  EXPECT_TRUE(torch::allclose(y.detach(), reference->forward(images).detach(), 1e-4, 1e-5));
  (y * weights).sum().backward();
  EXPECT_TRUE(torch::allclose(x.grad(), part(x_all.grad(), group), 1e-4, 1e-5));
  // Parameter gradients: this rank's share, summed.
  at::Tensor weight_grad = synced->weight.grad().clone();
  group.all_reduce_sum(weight_grad);
  EXPECT_TRUE(torch::allclose(weight_grad, reference->weight.grad(), 1e-4, 1e-5));
  // Running statistics as one process's (the reference ran two forwards).
  torch::nn::BatchNorm2d once(3);
  once->forward(images);
  EXPECT_TRUE(torch::allclose(synced->running_mean, once->running_mean, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(synced->running_var, once->running_var, 1e-5, 1e-6));
  // Eval mode: the running statistics, no communication.
  synced->eval();
  once->eval();
  EXPECT_TRUE(torch::allclose(synced->forward(images), once->forward(images), 1e-5, 1e-6));
}

void write_error(const std::string& text) {
  std::ofstream(fs::path(std::getenv("IMRET_DIST_OUT")) / "rank0.txt") << text;
}

// Rank 0: all-reduces until rank 1 is gone; its error goes to rank0.txt.
void expect_peer_error(Communicator& group) {
  at::Tensor t = torch::ones({4});
  try {
    for (int i = 0; i < 100; ++i) group.all_reduce_sum(t);
    ADD_FAILURE() << "the all-reduce went on without rank 1";
  } catch (const PeerError& e) {
    write_error(e.what());
  }
}

void death_case(Communicator& group) {
  if (group.rank() == 1) {
    group.barrier();
    raise(SIGKILL);
  }
  group.barrier();
  expect_peer_error(group);
}

void error_case(Communicator& group) {
  if (group.rank() == 1) {
    group.report_failure("the disk is full", false);
    _exit(1);  // at once, as a crash would: no destructors racing the Gloo threads
  }
  expect_peer_error(group);
}

TEST(DISABLED_Worker, Run) {
  const WorldInfo world = world_from_environment();
  ASSERT_TRUE(world.distributed()) << "run by run_case only";
  CommunicatorOptions options;
  options.timeout = std::chrono::seconds(30);
  std::shared_ptr<Communicator> group = connect(world, options);
  const std::string test_case = std::getenv("IMRET_DIST_CASE");
  if (test_case == "gather") gather_case(*group);
  if (test_case == "gradients") gradients_case(*group);
  if (test_case == "miner") miner_case(*group);
  if (test_case == "batchnorm") batchnorm_case(*group);
  if (test_case == "death") death_case(*group);
  if (test_case == "error") error_case(*group);
}

}  // namespace
}  // namespace imret::dist
