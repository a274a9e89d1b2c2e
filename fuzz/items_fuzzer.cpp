// libFuzzer entry point for embedding folders: the input's two parts (split at
// imret_fuzz::kPartSeparator) become items.jsonl and meta.json of a folder in
// /dev/shm. load_items_jsonl reads the items; when it accepts them, an
// embeddings.npy with one row per item is written beside them and
// load_embedding_set reads the whole folder (meta.json only when the input has
// a second part). Any exception other than imret::Error, any crash or
// sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "fuzz_input.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/error.hpp"
#include "imret/core/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  const auto parts = imret_fuzz::split_parts(imret_fuzz::as_text(data, size), 2);
  const fs::path folder = imret_fuzz::scratch_folder() / "embeddings";
  fs::create_directories(folder);
  const fs::path items_path = imret_fuzz::write_file("embeddings/items.jsonl", parts[0]);
  if (parts.size() > 1)
    imret_fuzz::write_file("embeddings/meta.json", parts[1]);
  else
    fs::remove(folder / "meta.json");
  try {
    const std::vector<imret::EmbeddedItem> items = imret::load_items_jsonl(items_path);
    const std::vector<float> zeros(items.size(), 0.0f);
    imret::save_npy(folder / "embeddings.npy", zeros.data(), static_cast<int64_t>(items.size()), 1);
    const imret::EmbeddingSet set = imret::load_embedding_set(folder);
    if (set.items.size() != items.size() || set.labels().size() != items.size()) __builtin_trap();
    set.has_objects();
    set.all_objects();
    imret::items_jsonl(set.items);
  } catch (const imret::Error&) {
  }
  return 0;
}
