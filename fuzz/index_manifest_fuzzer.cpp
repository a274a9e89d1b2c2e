// libFuzzer entry point for saved index folders (exact backend): the input's
// two parts (split at imret_fuzz::kPartSeparator) become manifest.json and
// items.jsonl of a folder in /dev/shm. The manifest is parsed
// (IndexManifest::from_json); when it is accepted and small, a vectors.npy of
// its count x dimension is written beside it, and load_index_folder reads the
// folder. Links Debian's LibTorch. Any exception other than imret::Error, any
// crash or sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "fuzz_input.hpp"
#include "imret/core/error.hpp"
#include "imret/core/npy.hpp"
#include "imret/search/index_store.hpp"

namespace {

constexpr int64_t kMaxValues = 1 << 16;  // vectors.npy written for manifests up to this many floats

// vectors.npy in `folder` as the manifest describes it, when it parses and is small.
void write_vectors(const std::filesystem::path& folder, std::string_view manifest_text) {
  const nlohmann::json json = nlohmann::json::parse(manifest_text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) return;
  const auto manifest = imret::search::IndexManifest::from_json(json, "manifest.json");
  manifest.to_json();
  if (manifest.count > kMaxValues || manifest.dimension > kMaxValues || manifest.count * manifest.dimension > kMaxValues)
    return;
  const std::vector<float> values(static_cast<size_t>(manifest.count * manifest.dimension), 0.5f);
  imret::save_npy(folder / "vectors.npy", values.data(), manifest.count, manifest.dimension);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  const auto parts = imret_fuzz::split_parts(imret_fuzz::as_text(data, size), 2);
  const fs::path folder = imret_fuzz::scratch_folder() / "index";
  fs::remove_all(folder);
  fs::create_directories(folder);
  imret_fuzz::write_file("index/manifest.json", parts[0]);
  imret_fuzz::write_file("index/items.jsonl", parts.size() > 1 ? parts[1] : std::string_view());
  try {
    write_vectors(folder, parts[0]);
  } catch (const imret::Error&) {
  }
  try {
    const imret::search::StoredIndex stored = imret::search::load_index_folder(folder);
    if (static_cast<int64_t>(stored.items.size()) != stored.index->size()) __builtin_trap();
  } catch (const imret::Error&) {
  }
  return 0;
}
