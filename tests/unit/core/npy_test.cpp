#include "imret/core/npy.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

#include "support/scratch.hpp"

namespace fs = std::filesystem;

namespace {
fs::path temp_path(const std::string& name) { return imret::testing::scratch_path("core_test", name); }
}  // namespace

TEST(Npy, RoundTripKeepsShapeAndValues) {
  const float data[6] = {1.5f, -2, 3, 4, 5e-8f, 6};
  const fs::path path = temp_path("round.npy");
  imret::save_npy(path, data, 2, 3);
  const auto m = imret::load_npy(path);
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 3);
  ASSERT_EQ(m.values.size(), 6u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(m.values[i], data[i]);
  // The data starts on a 64-byte boundary, as numpy writes it.
  EXPECT_EQ((fs::file_size(path) - 6 * sizeof(float)) % 64, 0u);
}

TEST(Npy, NumpyReadsWhatWeWriteAndWeReadWhatNumpyWrites) {
  const float data[4] = {0.25f, 1, 2, 3};
  const fs::path ours = temp_path("ours.npy");
  const fs::path theirs = temp_path("theirs.npy");
  imret::save_npy(ours, data, 4, 1);
  const std::string command = "/usr/bin/python3 -c \"import numpy as np; a = np.load('" + ours.string() +
                              "'); assert a.shape == (4, 1) and a.dtype == np.float32 and a[0, 0] == 0.25; "
                              "np.save('" + theirs.string() + "', np.arange(6, dtype=np.float32).reshape(2, 3))\"";
  ASSERT_EQ(std::system(command.c_str()), 0);
  const auto m = imret::load_npy(theirs);
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 3);
  EXPECT_EQ(m.values[5], 5.0f);
}

TEST(Npy, RejectsTruncatedWrongDtypeAndGarbage) {
  const float data[6] = {1, 2, 3, 4, 5, 6};
  const fs::path path = temp_path("trunc.npy");
  imret::save_npy(path, data, 2, 3);
  fs::resize_file(path, fs::file_size(path) - 4);
  try {
    imret::load_npy(path);
    FAIL() << "truncated file accepted";
  } catch (const imret::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string() + ": truncated"), std::string::npos) << e.what();
  }
  imret::write_file_atomic(temp_path("garbage.npy"), "not numpy at all");
  EXPECT_THROW(imret::load_npy(temp_path("garbage.npy")), imret::Error);
  const fs::path f8 = temp_path("f8.npy");
  ASSERT_EQ(std::system(("/usr/bin/python3 -c \"import numpy as np; np.save('" + f8.string() + "', np.zeros(3))\"").c_str()), 0);
  try {
    imret::load_npy(f8);
    FAIL() << "float64 accepted";
  } catch (const imret::Error& e) {
    EXPECT_NE(std::string(e.what()).find("<f8"), std::string::npos) << e.what();
  }
}

TEST(AtomicFile, AnUncommittedWriteLeavesTheOldFileAndNoTemporary) {
  const fs::path path = temp_path("atomic/keep.txt");
  imret::write_file_atomic(path, "good");
  {
    imret::AtomicFile file(path);
    file.stream() << "half written";
    // no commit: as if an exception left the scope
  }
  EXPECT_EQ(imret::read_file(path), "good");
  EXPECT_EQ(imret::testing::count_entries(path.parent_path()), 1);
}

TEST(AtomicFile, WriteViaTempRemovesTheTemporaryOnFailure) {
  const fs::path path = temp_path("via/file.bin");
  imret::write_file_atomic(path, "old");
  EXPECT_THROW(imret::write_via_temp(path,
                                     [](const fs::path& temp) {
                                       std::ofstream(temp) << "partial";
                                       throw imret::Error("writer failed");
                                     }),
               imret::Error);
  EXPECT_EQ(imret::read_file(path), "old");
  EXPECT_EQ(imret::testing::count_entries(path.parent_path()), 1);
}

TEST(ReadFile, NamesAMissingFile) {
  try {
    imret::read_file("/no/such/file.txt");
    FAIL();
  } catch (const imret::Error& e) {
    EXPECT_STREQ(e.what(), "/no/such/file.txt: no such file");
  }
}

#include "imret/core/yaml.hpp"

TEST(Yaml, RoundTripKeepsTypesAndShortNumbers) {
  const nlohmann::json value = {{"lr", 0.1},        {"epochs", 3},          {"name", "convnet"},
                                {"flag", true},     {"mean", {0.286, 0.5}}, {"nested", {{"gamma", 1.0}}},
                                {"quoted", "true"}, {"none", nullptr}};
  const std::string text = imret::to_yaml(value);
  EXPECT_NE(text.find("lr: 0.1\n"), std::string::npos) << text;
  const fs::path path = temp_path("round.yaml");
  imret::write_file_atomic(path, text);
  EXPECT_EQ(imret::load_yaml(path), value) << text;
}

TEST(Yaml, MalformedFileNamesFileAndLine) {
  const fs::path path = temp_path("bad.yaml");
  imret::write_file_atomic(path, "a: 1\nb: [2, 3\n");
  try {
    imret::load_yaml(path);
    FAIL();
  } catch (const imret::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path.string() + ":"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("malformed YAML"), std::string::npos) << e.what();
  }
}
