// libFuzzer entry point for training settings files: load_yaml (yaml-cpp,
// YAML -> JSON) on the input written to /dev/shm, then
// TrainConfig::from_settings and validate, and the config's JSON round trip.
// (The experiment plan's parser, src/imret/pipeline/experiment_plan.cpp,
// reads each row through TrainConfig::from_settings, fuzzed here.) Links Debian's LibTorch for the
// network and preprocessing settings. Any exception other than imret::Error,
// any crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.hpp"
#include "imret/core/error.hpp"
#include "imret/core/yaml.hpp"
#include "imret/learn/train_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = imret_fuzz::write_file("config.yaml", imret_fuzz::as_text(data, size));
  try {
    const nlohmann::json settings = imret::load_yaml(path);
    imret::to_yaml(settings);
    const imret::learn::TrainConfig config = imret::learn::TrainConfig::from_settings(settings, path.string());
    config.validate();
    imret::learn::TrainConfig::from_json(config.to_json()).validate();
    imret::learn::learning_rate_at(config, config.epochs);
  } catch (const imret::Error&) {
  }
  return 0;
}
