#pragma once
// Options and printing shared by several sub-commands.
#include <ATen/core/Tensor.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/data/preprocess_defaults.hpp"
#include "imret/data/transforms.hpp"
#include "imret/learn/train_config.hpp"
#include "imret/learn/trainer.hpp"
#include "imret/models/network.hpp"

namespace CLI {
class App;
}

namespace imret::cli {

// --resize/--crop/--mean/--std; unset values get defaults that suit the data
// and the network (data::PreprocessChoice::resolve).
struct PreprocessArgs : data::PreprocessChoice {
  void add_options(CLI::App& command);
};

void add_network_options(CLI::App& command, models::NetworkSpec& spec);
void add_training_options(CLI::App& command, learn::TrainConfig& config);
// The training settings the command line gave explicitly (options of
// add_network_options/add_training_options with a count), as TrainConfig JSON
// keys with `config`'s values: they override a settings file.
nlohmann::json given_training_settings(const CLI::App& command, const learn::TrainConfig& config);

// A training settings file: a mapping of TrainConfig keys, or a run's
// config.yaml (its `train` mapping). UsageError naming the file otherwise.
nlohmann::json load_training_settings(const std::filesystem::path& path);

// --precision fp32|tf32|bf16|fp16 (core/precision.hpp), into `precision`.
void add_precision_option(CLI::App& command, std::string& precision);
void add_weights_prefix_option(CLI::App& command, std::vector<std::string>& rules);

void print_training_summary(const learn::TrainResult& result, const std::filesystem::path& run_dir);


// "1,5,10" -> {1, 5, 10}; UsageError for anything but positive integers.
std::vector<int> parse_ks(const std::string& text, const std::string& option);

}  // namespace imret::cli
