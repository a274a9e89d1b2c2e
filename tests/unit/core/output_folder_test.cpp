// The output-folder contract (core/output_folder.hpp) and JSON text of file
// names (core/json_text.hpp).
#include "imret/core/output_folder.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "imret/core/atomic_file.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/error.hpp"
#include "imret/core/json_text.hpp"
#include "support/errors.hpp"
#include "support/scratch.hpp"

namespace fs = std::filesystem;
using imret::testing::error_of;

namespace {

fs::path fresh(const std::string& name) {
  const fs::path path = imret::testing::scratch_path("output_folder_test", name);
  fs::remove_all(path);
  fs::create_directories(path);
  return path;
}

imret::OutputRules rules(const std::string& kind, bool replace = true) {
  imret::OutputRules r;
  r.kind = kind;
  r.command = "test";
  r.replace = replace;
  r.replace_hint = "pass --overwrite";
  return r;
}

void write(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

std::string read(const fs::path& path) { return imret::read_file(path); }

// Every entry of `folder` whose name starts with ".".
std::vector<std::string> hidden_entries(const fs::path& folder) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(folder))
    if (e.path().filename().string()[0] == '.') names.push_back(e.path().filename().string());
  return names;
}

}  // namespace

TEST(OutputFolder, PublishesTheWholeFolderAndReplacesTheOldOneAtOnce) {
  const fs::path root = fresh("publish");
  const fs::path target = root / "out";
  {
    imret::OutputFolder out(target, rules("embeddings"));
    write(out.path() / "a.txt", "first");
    EXPECT_FALSE(fs::exists(target)) << "nothing is visible before publish";
    out.publish();
  }
  EXPECT_EQ(read(target / "a.txt"), "first");
  const auto marker = imret::read_folder_marker(target);
  ASSERT_TRUE(marker);
  EXPECT_EQ(marker->kind, "embeddings");
  EXPECT_TRUE(marker->complete);
  {
    imret::OutputFolder out(target, rules("embeddings"));
    write(out.path() / "b.txt", "second");
    EXPECT_EQ(read(target / "a.txt"), "first") << "the old folder stays until publish";
    out.publish();
  }
  EXPECT_FALSE(fs::exists(target / "a.txt")) << "the new folder replaces the old one whole";
  EXPECT_EQ(read(target / "b.txt"), "second");
  EXPECT_TRUE(hidden_entries(root).empty()) << "no staging, old or lock entry is left beside it";
}

TEST(OutputFolder, AnUnpublishedFolderLeavesTheOldOneAndNothingElse) {
  const fs::path root = fresh("unpublished");
  const fs::path target = root / "out";
  {
    imret::OutputFolder out(target, rules("index"));
    write(out.path() / "a.txt", "good");
    out.publish();
  }
  try {
    imret::OutputFolder out(target, rules("index"));
    write(out.path() / "a.txt", "half");
    throw std::runtime_error("the command failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(read(target / "a.txt"), "good");
  EXPECT_TRUE(hidden_entries(root).empty());
  // Parent folders it made for a failed output are removed too.
  const fs::path deep = root / "new" / "deeper" / "out";
  { imret::OutputFolder out(deep, rules("index")); }
  EXPECT_FALSE(fs::exists(root / "new"));
}

TEST(OutputFolder, RefusesFoldersItMayNotReplace) {
  const fs::path root = fresh("refuses");
  write(root / "mine" / "photo.jpg", "not imret's");
  EXPECT_NE(error_of([&] { imret::OutputFolder(root / "mine", rules("index")); }).find("was not written by imret"),
            std::string::npos);
  EXPECT_EQ(read(root / "mine" / "photo.jpg"), "not imret's");

  write(root / "file", "x");
  EXPECT_NE(error_of([&] { imret::OutputFolder(root / "file", rules("index")); }).find("exists and is not a folder"),
            std::string::npos);

  {
    imret::OutputFolder run(root / "run", rules("run"));
    write(run.path() / "checkpoint", "weights");
    run.publish();
  }
  const std::string other_kind = error_of([&] { imret::OutputFolder(root / "run", rules("index")); });
  EXPECT_NE(other_kind.find("holds a run (written by imret test), not an index"), std::string::npos) << other_kind;
  const std::string no_replace = error_of([&] { imret::OutputFolder(root / "run", rules("run", false)); });
  EXPECT_NE(no_replace.find("already holds a run; pass --overwrite to replace it"), std::string::npos) << no_replace;
  EXPECT_EQ(read(root / "run" / "checkpoint"), "weights");

  // An input of the command, or a folder holding one, is never replaced.
  imret::OutputRules with_input = rules("run");
  with_input.inputs = {root / "run" / "checkpoint"};
  EXPECT_NE(error_of([&] { imret::OutputFolder(root / "run", with_input); }).find("holds an input of this command"),
            std::string::npos);
  with_input.inputs = {root / "run"};
  EXPECT_NE(error_of([&] { imret::OutputFolder(root / "run/", with_input); }).find("holds an input"),
            std::string::npos);
  EXPECT_EQ(read(root / "run" / "checkpoint"), "weights");

  // An empty folder is used; a legacy folder of the kind is replaced.
  fs::create_directories(root / "empty");
  { imret::OutputFolder(root / "empty", rules("index")).publish(); }
  write(root / "legacy" / "manifest.json", "{}");
  imret::OutputRules legacy = rules("index");
  legacy.legacy = [](const fs::path& folder) { return fs::exists(folder / "manifest.json"); };
  { imret::OutputFolder(root / "legacy", legacy).publish(); }
  EXPECT_FALSE(fs::exists(root / "legacy" / "manifest.json"));
}

TEST(OutputFolder, ASecondWriterOfTheSameFolderFailsClearly) {
  const fs::path root = fresh("lock");
  imret::OutputFolder first(root / "out", rules("embeddings"));
  const std::string message = error_of([&] { imret::OutputFolder(root / "out", rules("embeddings")); });
  EXPECT_NE(message.find("another imret process (pid " + std::to_string(::getpid()) + ") is writing this folder"),
            std::string::npos)
      << message;
  // Another process too (flock is per open file: a child's own open conflicts).
  const pid_t child = ::fork();
  if (child == 0) {
    try {
      imret::OutputFolder second(root / "out", rules("embeddings"));
      ::_exit(0);
    } catch (const imret::Error&) {
      ::_exit(3);
    }
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 3);
  first.publish();
  imret::OutputFolder after(root / "out", rules("embeddings"));  // released by publish
}

TEST(OutputFolder, CleansWhatAKilledWriterLeftAndPutsBackAnInterruptedSwap) {
  const fs::path root = fresh("stale");
  write(root / ".out.imret-staging-999999-1" / "half", "x");
  write(root / ".out.imret-old-999999-2" / "a.txt", "the last good one");
  write(root / ".out.imret-old-999999-2" / imret::kFolderMarker,
        R"({"format": "imret-folder-1", "kind": "embeddings", "complete": true, "command": "embed"})");
  {
    imret::OutputFolder out(root / "out", rules("embeddings"));
    // The old folder of a swap that was killed between its two renames is the target again.
    EXPECT_EQ(read(root / "out" / "a.txt"), "the last good one");
    EXPECT_FALSE(fs::exists(root / ".out.imret-staging-999999-1"));
  }
  // imret 0.1's index writer could strand the old index as .NAME.old-N: it is put back.
  write(root / ".index.old-123456" / "manifest.json", "{}");
  write(root / ".index.new-654321" / "half", "x");
  imret::OutputRules index_rules = rules("index");
  index_rules.legacy = [](const fs::path& folder) { return imret::only_entries(folder, {"manifest.json"}); };
  { imret::OutputFolder out(root / "index", index_rules); }
  EXPECT_TRUE(fs::exists(root / "index" / "manifest.json"));
  EXPECT_FALSE(fs::exists(root / ".index.new-654321"));
  { imret::OutputFolder(root / "run", rules("run")).publish(); }
  write(root / "run" / "checkpoints" / ".last.safetensors.tmp-999999-0", "stale");
  write(root / "run" / "checkpoints" / (".best.safetensors.tmp-" + std::to_string(::getpid()) + "-0"), "live");
  imret::WorkFolder work(root / "run", rules("run"));
  EXPECT_FALSE(fs::exists(root / "run" / "checkpoints" / ".last.safetensors.tmp-999999-0"));
  EXPECT_TRUE(fs::exists(root / "run" / "checkpoints" / (".best.safetensors.tmp-" + std::to_string(::getpid()) + "-0")))
      << "a live process's temporary file is left alone";
}

TEST(WorkFolder, IsCreatedMarkedIncompleteAndRemovedWhenNothingWasKept) {
  const fs::path root = fresh("work");
  {
    imret::WorkFolder work(root / "run", rules("run"));
    EXPECT_TRUE(work.created());
    const auto marker = imret::read_folder_marker(root / "run");
    ASSERT_TRUE(marker);
    EXPECT_FALSE(marker->complete);
    EXPECT_NE(error_of([&] { imret::check_folder_marker(root / "run", {"run"}, "a run"); }).find("is incomplete"),
              std::string::npos);
  }
  EXPECT_FALSE(fs::exists(root / "run")) << "a failed new run leaves no folder";
  {
    imret::WorkFolder work(root / "run", rules("run"));
    write(root / "run" / "checkpoint", "epoch 1");
    work.keep();
  }
  EXPECT_EQ(read(root / "run" / "checkpoint"), "epoch 1") << "a run with a checkpoint is kept to be resumed";
  {
    imret::WorkFolder work(root / "run", rules("run"));
    EXPECT_FALSE(work.created());
    work.complete({{"epochs", 2}});
  }
  const auto marker = imret::read_folder_marker(root / "run");
  ASSERT_TRUE(marker);
  EXPECT_TRUE(marker->complete);
  EXPECT_EQ(marker->details.at("epochs"), 2);
  EXPECT_NE(error_of([&] { imret::WorkFolder(root / "run", rules("index")); }).find("not an index"), std::string::npos);
}

TEST(FolderMarker, ReadersRefuseAnIncompleteOrOtherFolderAndAcceptOneWithoutAMarker) {
  const fs::path root = fresh("readers");
  const float values[4] = {1, 2, 3, 4};
  const std::vector<imret::EmbeddedItem> items = {{0, "a.png", 0, "a", std::nullopt}, {1, "b.png", 1, "b", std::nullopt}};
  imret::save_embedding_set(root / "emb", values, 2, 2, items, {});
  EXPECT_EQ(imret::load_embedding_set(root / "emb").embeddings.rows, 2);
  write(root / "emb" / imret::kFolderMarker,
        R"({"format": "imret-folder-1", "kind": "index", "complete": true, "command": "index build"})");
  EXPECT_NE(error_of([&] { imret::load_embedding_set(root / "emb"); })
                .find("holds an index (written by imret index build), not an embedding folder"),
            std::string::npos);
  write(root / "emb" / imret::kFolderMarker,
        R"({"format": "imret-folder-1", "kind": "embeddings", "complete": false, "command": "embed"})");
  EXPECT_NE(error_of([&] { imret::load_embedding_set(root / "emb"); }).find("is incomplete"), std::string::npos);
  write(root / "emb" / imret::kFolderMarker, "{not json");
  EXPECT_NE(error_of([&] { imret::load_embedding_set(root / "emb"); }).find(".imret-folder.json: malformed"),
            std::string::npos);
  fs::remove(root / "emb" / imret::kFolderMarker);  // as Python would write it
  EXPECT_EQ(imret::load_embedding_set(root / "emb").embeddings.rows, 2);
}

TEST(EmbeddingSet, RefusesNonFiniteRowsNamingTheFirstOrDropsThem) {
  const fs::path root = fresh("nonfinite");
  const float values[6] = {1, 2, NAN, 4, 5, INFINITY};
  const std::vector<imret::EmbeddedItem> items = {
      {0, "a.png", 0, "a", std::nullopt}, {1, "b.png", 1, "b", std::nullopt}, {2, "c.png", 1, "b", std::nullopt}};
  imret::save_embedding_set(root / "emb", values, 3, 2, items, {});
  const std::string message = error_of([&] { imret::load_embedding_set(root / "emb"); });
  EXPECT_NE(message.find("emb/embeddings.npy: row 1 (b.png) has NaN or infinite values (2 such rows in all)"),
            std::string::npos)
      << message;
  const imret::EmbeddingSet kept = imret::load_embedding_set(root / "emb", {true});
  ASSERT_EQ(kept.embeddings.rows, 1);
  EXPECT_EQ(kept.items.at(0).source, "a.png");
  EXPECT_EQ(kept.embeddings.values, (std::vector<float>{1, 2}));
}

TEST(EmbeddingSet, RefusesAMetaJsonThatDisagreesWithTheArrays) {
  const fs::path root = fresh("meta");
  const float values[4] = {1, 2, 3, 4};
  const std::vector<imret::EmbeddedItem> items = {{0, "a.png", 0, "a", std::nullopt}, {1, "b.png", 1, "b", std::nullopt}};
  imret::save_embedding_set(root / "emb", values, 2, 2, items, {});
  write(root / "emb" / "meta.json", R"({"count": 3, "dimension": 2})");
  const std::string message = error_of([&] { imret::load_embedding_set(root / "emb"); });
  EXPECT_NE(message.find("meta.json: \"count\" is 3 but embeddings.npy has 2 rows"), std::string::npos) << message;
  write(root / "emb" / "meta.json", "[1, 2]");
  EXPECT_NE(error_of([&] { imret::load_embedding_set(root / "emb"); }).find("expected a JSON object"),
            std::string::npos);
}

TEST(JsonText, FileNamesThatAreNotUtf8StayReadableAndRecoverable) {
  const std::string latin1 = "caf\xe9.jpg";  // a Latin-1 name
  EXPECT_FALSE(imret::is_valid_utf8(latin1));
  EXPECT_TRUE(imret::is_valid_utf8("caf\xc3\xa9.jpg"));
  EXPECT_FALSE(imret::is_valid_utf8("\xed\xa0\x80"));  // a UTF-8 encoded surrogate
  EXPECT_FALSE(imret::is_valid_utf8("\xc0\xaf"));      // an overlong '/'
  EXPECT_EQ(imret::to_valid_utf8(latin1), "caf\xef\xbf\xbd.jpg");
  nlohmann::json object;
  imret::put_text(object, "source", latin1);
  EXPECT_EQ(object.at("source_hex"), "636166e92e6a7067");
  EXPECT_EQ(imret::get_text(nlohmann::json::parse(imret::dump_json(object)), "source", "test"), latin1);

  const fs::path root = fresh("utf8");
  const float values[2] = {1, 2};
  const std::vector<imret::EmbeddedItem> items = {{0, "/photos/" + latin1, 0, "caf\xe9", std::nullopt}};
  imret::save_embedding_set(root / "emb", values, 1, 2, items, {{"data", "/photos/\xff"}});
  const imret::EmbeddingSet set = imret::load_embedding_set(root / "emb");
  EXPECT_EQ(set.items.at(0).source, "/photos/" + latin1);
  EXPECT_EQ(set.items.at(0).class_name, "caf\xe9");
  // Python's json reads the files (strict UTF-8).
  const std::string check = "/usr/bin/python3 -c \"import json,sys; [json.loads(l) for l in open(sys.argv[1], "
                            "encoding='utf-8')]; json.load(open(sys.argv[2], encoding='utf-8'))\" " +
                            (root / "emb" / "items.jsonl").string() + " " + (root / "emb" / "meta.json").string();
  EXPECT_EQ(std::system(check.c_str()), 0);
}

TEST(EmbeddingSet, ItemNumbersMustBeIntegersInRange) {
  // Found by fuzz/items_fuzzer: nlohmann's get<int> casts a float unchecked (undefined behaviour).
  const fs::path root = fresh("items");
  for (const std::string& line : {R"({"objects": [[0, 1e20]]})", R"({"index": 1e30})", R"({"label": -1e300})",
                                  R"({"label": 1.5})", R"({"objects": [[0, 4294967297]]})", R"([1, 2])"}) {
    write(root / "items.jsonl", line + "\n");
    const std::string message = error_of([&] { imret::load_items_jsonl(root / "items.jsonl"); });
    EXPECT_NE(message.find("items.jsonl:1: "), std::string::npos) << line << " -> " << message;
  }
  write(root / "items.jsonl", R"({"index": 7, "label": 2, "objects": [[1, 3]]})" "\n");
  const auto items = imret::load_items_jsonl(root / "items.jsonl");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].index, 7);
  EXPECT_EQ(items[0].label, 2);
  EXPECT_EQ(items[0].objects->at(0).count, 3);
}
