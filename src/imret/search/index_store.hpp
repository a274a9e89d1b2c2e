#pragma once
// A saved index: a folder with
//   manifest.json  backend spec, metric, dimension, count, files, query-time
//                  parameters, where the vectors came from, imret version
//   index.faiss    the FAISS index (FAISS's own format), or
//   vectors.npy    the exact index's vectors (float32 .npy)
//   items.jsonl    the item of each id (as in an embedding folder)
//   .imret-folder.json  the output-folder marker (kind "index")
// written by `imret index build` / `imret index add`, read by `imret index
// info|search|add`. The whole folder is replaced at once (OutputFolder,
// core/output_folder.hpp): a crash leaves the old index or the new one, never a mix.
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "imret/core/embedding_set.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/search/index.hpp"

namespace imret::search {

struct IndexManifest {
  std::string backend;  // the spec: exact:l2, exact:cosine, faiss:IVF256,Flat...
  Metric metric = Metric::Euclidean;
  int64_t dimension = 0;
  int64_t count = 0;
  std::string index_file;  // relative to the folder
  std::string items_file = "items.jsonl";
  std::vector<std::pair<std::string, double>> parameters;  // query-time, applied on load
  int64_t trained_on = 0;                                  // training points (0: no training)
  std::vector<std::string> sources;                        // embedding folders added, in order
  // meta.json of the first embedding folder: the network, preprocessing and
  // data the vectors came from (so that `index search --image` can embed queries).
  nlohmann::json embedding_meta = nlohmann::json::object();
  std::string imret_version;
  // A sharded index (sharded_index.hpp): each shard's size, its file
  // shard_file(index_file, s). Empty: one index in index_file.
  std::vector<int64_t> shards;
  // The database-side re-ranking the vectors went through before they were
  // indexed ("dba:k=5,alpha=3"; docs/rerank.md). Empty: none.
  std::string augmentation;

  nlohmann::json to_json() const;
  // Throws imret::Error naming `source` and the key on a missing or mistyped key.
  static IndexManifest from_json(const nlohmann::json& json, const std::string& source);
};

struct StoredIndex {
  IndexManifest manifest;
  std::unique_ptr<Index> index;
  std::vector<EmbeddedItem> items;  // one per id
};

// The file name an index of this spec is saved under (index.faiss or vectors.npy).
std::string index_file_name(const std::string& spec);

// Writes index + items + manifest (count, dimension, metric, backend, files
// and parameters taken from the index) into `folder` (an OutputFolder's
// staging folder). Needs one item per indexed vector.
void write_index_files(const std::filesystem::path& folder, const Index& index, IndexManifest manifest,
                       const std::vector<EmbeddedItem>& items);

// The output rules of an index folder: `replace` says whether an earlier
// index there may be replaced (`hint`: how the user allows it).
OutputRules index_folder_rules(const std::string& command, bool replace, const std::string& hint,
                               std::vector<std::filesystem::path> inputs = {});

// write_index_files under the output-folder contract, replacing an earlier index.
void save_index_folder(const std::filesystem::path& folder, const Index& index, IndexManifest manifest,
                       const std::vector<EmbeddedItem>& items);

// Reads a folder that save_index_folder wrote and applies the recorded
// parameters. Throws imret::Error naming the file on a missing or malformed
// manifest, a missing, truncated or foreign index file, or an index whose
// backend, metric, dimension or count differ from the manifest's, or whose
// items do not match its count.
StoredIndex load_index_folder(const std::filesystem::path& folder, c10::Device device = c10::kCPU);

}  // namespace imret::search
