// TrainConfig's data loader workers (0 to 4 x the cores) and the class count
// training needs (check_class_count).
#include <gtest/gtest.h>

#include <thread>

#include "imret/core/error.hpp"
#include "imret/learn/train_config.hpp"
#include "support/errors.hpp"

using imret::learn::TrainConfig;
using imret::testing::error_of;

TEST(TrainConfigWorkers, ZeroToFourTimesTheCores) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  TrainConfig config;
  for (int workers : {0, 1, 4 * cores}) {
    config.workers = workers;
    EXPECT_NO_THROW(config.validate()) << workers;
  }
  for (int workers : {-1, 4 * cores + 1, 99999}) {
    config.workers = workers;
    EXPECT_THROW(config.validate(), imret::UsageError) << workers;
  }
  config.workers = -1;
  EXPECT_EQ(error_of([&] { config.validate(); }).rfind("workers -1: expected 0 to ", 0), 0u);
}

TEST(TrainClassCount, OneClassIsAnErrorForEveryMethod) {
  TrainConfig config;
  for (const char* method : {"triplet", "siamese", "multi-similarity", "proxy-anchor"}) {
    config.method = method;
    EXPECT_EQ(error_of([&] { imret::learn::check_class_count(config, 1); }),
              "only one class: metric learning needs at least two classes to find negatives")
        << method;
    EXPECT_NO_THROW(imret::learn::check_class_count(config, 2));
  }
  config.method = "classification";
  EXPECT_EQ(error_of([&] { imret::learn::check_class_count(config, 1); })
                .rfind("only one class: a classifier needs at least two classes", 0),
            0u);
  EXPECT_THROW(imret::learn::check_class_count(config, 0), imret::UsageError);
  EXPECT_NO_THROW(imret::learn::check_class_count(config, 2));
}

TEST(TrainClassCount, AnUntrainedBaselineNeedsNoClasses) {
  TrainConfig config;
  config.method = "triplet";
  config.epochs = 0;
  EXPECT_NO_THROW(imret::learn::check_class_count(config, 1));
}
