// Thread counts: 1 (or 0 where the calling thread counts) to 4 x the cores,
// with one message naming the setting; configure_threads defaults to the cores.
#include "imret/core/runtime.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "imret/core/error.hpp"
#include "support/errors.hpp"

using imret::testing::error_of;

namespace {
const int64_t kCores = std::max<int64_t>(1, std::thread::hardware_concurrency());
}  // namespace

TEST(ThreadCount, AcceptsOneToFourTimesTheCores) {
  EXPECT_EQ(imret::max_threads(), 4 * kCores);
  EXPECT_NO_THROW(imret::check_thread_count("threads", 1));
  EXPECT_NO_THROW(imret::check_thread_count("threads", 4 * kCores));
  EXPECT_THROW(imret::check_thread_count("threads", 4 * kCores + 1), imret::UsageError);
  EXPECT_THROW(imret::check_thread_count("threads", 99999), imret::UsageError);
  EXPECT_THROW(imret::check_thread_count("threads", -3), imret::UsageError);
}

TEST(ThreadCount, TheMessageNamesTheSettingAndTheRange) {
  const std::string range = std::to_string(4 * kCores) + " (up to 4 x the " + std::to_string(kCores) + " cores)";
  EXPECT_EQ(error_of([] { imret::check_thread_count("threads", 0); }), "threads 0: expected 1 to " + range);
  EXPECT_EQ(error_of([] { imret::check_thread_count("workers", -1, 0); }), "workers -1: expected 0 to " + range);
  EXPECT_NO_THROW(imret::check_thread_count("workers", 0, 0));
}

TEST(ConfigureThreads, DefaultsToTheCoresAndChecksAGivenCount) {
  EXPECT_EQ(imret::configure_threads(), kCores);
  EXPECT_EQ(imret::configure_threads(1), 1);
  EXPECT_EQ(error_of([] { imret::configure_threads(-1); }).rfind("threads -1: expected 1 to ", 0), 0u);
  EXPECT_EQ(error_of([] { imret::configure_threads(99999); }).rfind("threads 99999: expected 1 to ", 0), 0u);
  imret::configure_threads();
}
