// Regression test for COCO ids found by fuzzing the instances reader
// (fuzz/coco_json_fuzzer): looking up an id far from the smallest one
// overflowed int64 (undefined behaviour; fails under the asan preset).
#include <gtest/gtest.h>

#include <string>

#include "imret/core/atomic_file.hpp"
#include "imret/data/coco_annotations.hpp"
#include "support/errors.hpp"
#include "support/scratch.hpp"

TEST(CocoIds, ImageIdFarAboveTheListedOnesIsReportedMissing) {
  const auto path = imret::testing::scratch_path("data_test", "far_ids.json");
  imret::write_file_atomic(path, R"({"images": [{"id": -2, "file_name": "a.jpg"}],
    "categories": [{"id": 1, "name": "c"}],
    "annotations": [{"id": 7, "image_id": 9223372036854775807, "category_id": 1}]})");
  EXPECT_EQ(imret::testing::error_of([&] { imret::data::read_coco_instances(path); }),
            path.string() + ": annotations[0] (id 7): image_id 9223372036854775807 is not in \"images\"");
}
