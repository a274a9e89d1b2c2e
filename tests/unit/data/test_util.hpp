#pragma once
// Helpers shared by the data-stage tests.
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "imret/data/dataset.hpp"

namespace imret::data::testing {

// A fresh, empty temporary folder, removed with the object.
class TempDir {
 public:
  explicit TempDir(const std::string& name) {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("imret_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + name);
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// n items; item i is a C x H x W image filled with the value i, label i % classes.
// Items in `bad` throw BadImageError, the item `error_at` throws imret::Error,
// and each load sleeps `delay`.
class FakeDataset : public Dataset {
 public:
  FakeDataset(int64_t n, int64_t num_classes = 3, bool in_memory = false) : n_(n), in_memory_(in_memory) {
    for (int64_t c = 0; c < num_classes; ++c) classes_.push_back("class" + std::to_string(c));
  }
  int64_t size() const override { return n_; }
  int64_t label(int64_t i) const override { return i % static_cast<int64_t>(classes_.size()); }
  const std::vector<std::string>& classes() const override { return classes_; }
  std::string source(int64_t i) const override { return "fake/" + std::to_string(i) + ".png"; }
  int64_t channels() const override { return channels_; }
  bool in_memory() const override { return in_memory_; }
  at::Tensor load(int64_t i) const override {
    ++loads;
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    if (bad.count(i)) throw BadImageError(source(i), "fake corrupt image");
    if (i == error_at) throw Error("fake failure on item " + std::to_string(i));
    const int64_t h = (i == odd_size_item) ? height + 1 : height;
    return torch::full({channels_, h, width}, static_cast<float>(i));
  }
  at::Tensor load_many(const std::vector<int64_t>& indices) const override {
    ++load_manys;
    return Dataset::load_many(indices);
  }

  std::set<int64_t> bad;
  int64_t error_at = -1;
  int64_t odd_size_item = -1;
  std::chrono::milliseconds delay{0};
  int64_t height = 2, width = 2;
  mutable std::atomic<int64_t> loads{0}, load_manys{0};

 private:
  int64_t n_;
  bool in_memory_;
  int64_t channels_ = 1;
  std::vector<std::string> classes_;
};

// True when calling f throws an E whose message contains `part`.
template <typename E, typename F>
::testing::AssertionResult throws_with(F&& f, const std::string& part) {
  try {
    f();
  } catch (const E& e) {
    if (std::string(e.what()).find(part) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "message '" << e.what() << "' lacks '" << part << "'";
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw another type: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

}  // namespace imret::data::testing
