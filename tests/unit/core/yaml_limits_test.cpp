// Regression tests for YAML aliases found while fuzzing load_yaml
// (fuzz/yaml_config_fuzzer): before the fix an alias inside itself recursed
// until the stack overflowed, and aliases of aliases expanded without bound.
#include <gtest/gtest.h>

#include <string>

#include "imret/core/atomic_file.hpp"
#include "imret/core/yaml.hpp"

#include "support/errors.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;

namespace {

fs::path yaml_file(const std::string& name, const std::string& text) {
  const fs::path path = imret::testing::scratch_path("core_test", name);
  imret::write_file_atomic(path, text);
  return path;
}

}  // namespace

TEST(YamlLimits, AliasInsideItselfIsAnError) {
  const fs::path path = yaml_file("cycle.yaml", "a: &a [*a]\n");
  EXPECT_EQ(imret::testing::error_of([&] { imret::load_yaml(path); }),
            path.string() + ": YAML nested more than 256 levels deep (an alias inside itself?)");
}

TEST(YamlLimits, AliasesOfAliasesCannotBlowUp) {  // 10^9 values from 300 bytes
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += (k ? ", *a" : "*a") + std::to_string(i - 1);
    text += "]\n";
  }
  const fs::path path = yaml_file("laughs.yaml", text);
  EXPECT_EQ(imret::testing::error_of([&] { imret::load_yaml(path); }),
            path.string() + ": YAML expands to more than 100000 values (aliases of aliases?)");
}

TEST(YamlLimits, SharedAnchorsWithinTheLimitsStillRead) {
  const fs::path path = yaml_file("anchors.yaml", "defaults: &d {lr: 0.1, epochs: 2}\nrun: {<<: *d, epochs: 3}\nagain: *d\n");
  const nlohmann::json json = imret::load_yaml(path);
  EXPECT_EQ(json.at("again").at("epochs"), 2);
  EXPECT_EQ(json.at("again").at("lr"), 0.1);
}
