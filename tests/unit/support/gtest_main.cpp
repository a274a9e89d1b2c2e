// The main of every unit-test program: GoogleTest's, but a run whose tests
// were all skipped (GTEST_SKIP: no CUDA device, say) exits 77, which CTest
// reports as skipped rather than passed (SKIP_RETURN_CODE, ImretGtestSuites.cmake).
#include <gtest/gtest.h>

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  const testing::UnitTest& run = *testing::UnitTest::GetInstance();
  if (status == 0 && run.test_to_run_count() > 0 && run.skipped_test_count() == run.test_to_run_count()) return 77;
  return status;
}
