#pragma once
// Small training runs for the trainer tests (CPU and CUDA): a stratified
// Fashion-MNIST subset, a 16-d ConvNet config, a fresh run folder.
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "imret/data/idx.hpp"
#include "imret/learn/train_config.hpp"

namespace imret::testing {

// <tmp>/imret_<suite>_<pid>/<name>, removed if it exists (the run creates it).
inline std::filesystem::path fresh_run_dir(const std::string& suite, const std::string& name) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("imret_" + suite + "_" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(dir);
  return dir;
}

inline std::shared_ptr<const data::Dataset> small_fashion_mnist(int64_t count) {
  auto full = data::load_mnist_folder(data::kDefaultFashionMnist, "train");
  return data::subset(full, data::stratified_split(*full, 1.0 - static_cast<double>(count) / 60000.0, 7).first);
}

inline learn::TrainConfig small_config() {
  learn::TrainConfig config;
  config.network = {"convnet", 1, 10, 16};
  config.preprocess.mean = {0.2860};
  config.preprocess.std = {0.3530};
  config.batch_size = 64;
  config.epochs = 2;
  config.val_fraction = 0.2;
  config.workers = 1;
  return config;
}

}  // namespace imret::testing
