// Reading the launcher's environment: torchrun's variables, Slurm's, errors.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "imret/core/error.hpp"
#include "imret/dist/world.hpp"

namespace imret::dist {
namespace {

WorldInfo from(const std::map<std::string, std::string>& variables) {
  return world_from_environment([&](const char* name) -> const char* {
    auto it = variables.find(name);
    return it == variables.end() ? nullptr : it->second.c_str();
  });
}

std::string error_of(const std::map<std::string, std::string>& variables) {
  try {
    from(variables);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(World, NoLauncherIsOneProcess) {
  const WorldInfo w = from({});
  EXPECT_EQ(w.rank, 0);
  EXPECT_EQ(w.world_size, 1);
  EXPECT_FALSE(w.distributed());
  EXPECT_EQ(w.launcher, "");
}

TEST(World, TorchrunVariables) {
  const WorldInfo w = from({{"RANK", "3"}, {"WORLD_SIZE", "4"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                            {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29400"}});
  EXPECT_EQ(w.rank, 3);
  EXPECT_EQ(w.world_size, 4);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_world_size, 2);
  EXPECT_EQ(w.master_addr, "node7");
  EXPECT_EQ(w.master_port, 29400);
  EXPECT_EQ(w.launcher, "torchrun");
  EXPECT_TRUE(w.distributed());
}

TEST(World, SlurmVariables) {
  const WorldInfo w = from({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                            {"SLURM_TASKS_PER_NODE", "4(x2)"}, {"MASTER_ADDR", "n1"}, {"MASTER_PORT", "12345"}});
  EXPECT_EQ(w.rank, 5);
  EXPECT_EQ(w.world_size, 8);
  EXPECT_EQ(w.local_rank, 1);
  EXPECT_EQ(w.local_world_size, 4);
  EXPECT_EQ(w.launcher, "slurm");
}

TEST(World, SlurmWithoutATaskCountPerNode) {
  // srun -N2 -n8 sets neither SLURM_NTASKS_PER_NODE nor (in some setups) SLURM_TASKS_PER_NODE.
  const WorldInfo w = from({{"SLURM_PROCID", "6"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "2"},
                            {"MASTER_ADDR", "n1"}, {"MASTER_PORT", "12345"}});
  EXPECT_EQ(w.local_rank, 2);
  EXPECT_EQ(w.local_world_size, 0);
  EXPECT_NE(w.describe().find("local 2/?"), std::string::npos) << w.describe();
}

TEST(World, TorchrunWinsOverSlurm) {
  const WorldInfo w = from({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1000"},
                            {"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}});
  EXPECT_EQ(w.launcher, "torchrun");
  EXPECT_EQ(w.rank, 1);
}

TEST(World, ErrorsNameTheVariable) {
  EXPECT_NE(error_of({{"RANK", "0"}}).find("WORLD_SIZE is not set"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK='x'"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "1"}})
                .find("RANK=2 is outside the world of 2"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR is not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "a"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT=70000"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}, {"MASTER_PORT", "5"}})
                .find("set it in the job script"),
            std::string::npos);
}

TEST(World, OneProcessNeedsNoRendezvous) {
  const WorldInfo w = from({{"RANK", "0"}, {"WORLD_SIZE", "1"}});
  EXPECT_FALSE(w.distributed());
  EXPECT_EQ(w.master_addr, "127.0.0.1");
}

}  // namespace
}  // namespace imret::dist
