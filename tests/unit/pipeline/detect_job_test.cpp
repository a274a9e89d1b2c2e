// pipeline::detect_to_folder refuses what it cannot do before it loads a
// model (the whole run is tested against torchvision in tests/e2e/detect_cairo.sh).
#include <gtest/gtest.h>

#include <fstream>

#include "imret/pipeline/detect_job.hpp"
#include "support/errors.hpp"
#include "support/scratch.hpp"

namespace imret {
namespace {

namespace fs = std::filesystem;

TEST(DetectJob, ChecksTheRequestBeforeLoadingTheModel) {
  const fs::path images = testing::scratch_path("pipeline", "detect_images");
  fs::create_directories(images);
  std::ofstream(images / "a.png") << "not decoded before the checks";
  pipeline::DetectRequest request;
  request.inputs = {images.string()};
  request.weights = testing::scratch_path("pipeline", "no_such_weights.pth").string();  // never opened
  request.draw = false;
  request.min_size = 800;
  request.max_size = 400;
  const fs::path out = testing::scratch_path("pipeline", "detect_out");
  const std::string error = testing::error_of([&] { pipeline::detect_to_folder(request, out); });
  EXPECT_EQ(error, "max_size must be at least min_size");
  EXPECT_FALSE(fs::exists(out));
}

TEST(DetectJob, NamesAnInputThatDoesNotExist) {
  pipeline::DetectRequest request;
  request.inputs = {testing::scratch_path("pipeline", "missing_images").string()};
  request.weights = "unused.pth";
  const std::string error = testing::error_of(
      [&] { pipeline::detect_to_folder(request, testing::scratch_path("pipeline", "detect_missing")); });
  EXPECT_NE(error.find("missing_images: no such image file or folder"), std::string::npos) << error;
}

}  // namespace
}  // namespace imret
