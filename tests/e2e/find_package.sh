# The installed library: `cmake --install` of the build into a folder, then a
# program outside the source tree, built with find_package(imret) and
# imret::imret, writes and reads an embedding set, searches it exactly (and
# with FAISS when imret has it), reports progress to its own Feedback sink and
# loads a shared object (what a Python module is) that holds every object of
# the library, so all of them must be position-independent; its output is
# checked line by line. Nothing of the consumer's build
# may point into imret's source or build folders.
source "$(dirname "$0")/lib/common.sh"
: "${IMRET_BUILD_DIR:?IMRET_BUILD_DIR must be the build folder}" "${IMRET_SOURCE_DIR:?IMRET_SOURCE_DIR must be the source folder}"
prefix="$work/prefix"
cache="$IMRET_BUILD_DIR/CMakeCache.txt"
setting() { sed -n "s/^$1:[A-Z]*=//p" "$cache"; }

cmake --install "$IMRET_BUILD_DIR" --prefix "$prefix" >"$work/install.log" 2>&1 ||
  fail "cmake --install failed: $(tail -5 "$work/install.log")"
libdir=$(ls -d "$prefix"/lib*/cmake/imret | head -1)
for f in bin/imret include/imret/core/version.hpp include/imret/core/feedback.hpp include/imret/search/index.hpp; do
  [[ -s $prefix/$f ]] || fail "the install lacks $f"
done
for f in imretConfig.cmake imretConfigVersion.cmake imretTargets.cmake ../../libimret.a; do
  [[ -s $libdir/$f ]] || fail "the install lacks $libdir/$f"
done
[[ ! -e $prefix/include/imret/cli ]] || fail "the command line's headers were installed"
"$prefix/bin/imret" --version | grep -qF "$(setting CMAKE_PROJECT_VERSION)" || fail "the installed imret does not run"
if grep -rlF -e "$IMRET_SOURCE_DIR" -e "$IMRET_BUILD_DIR" "$libdir" >"$work/leaks"; then
  fail "the package config points into imret's folders: $(cat "$work/leaks")"
fi

app="$work/app"
mkdir -p "$app"
cat >"$app/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.24)
project(imret_consumer LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(imret 0.1 REQUIRED)
add_executable(consumer consumer.cpp)
target_link_libraries(consumer PRIVATE imret::imret ${CMAKE_DL_LIBS})
add_library(consumer_module MODULE module.cpp)
target_link_libraries(consumer_module PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,imret::imret>")
CMAKE
cat >"$app/module.cpp" <<'CPP'
#include <imret/core/version.hpp>
extern "C" const char* consumer_module_version() { return imret::kVersion; }
CPP
cat >"$app/consumer.cpp" <<'CPP'
// Uses the installed imret: an embedding set on disk, exact search, feedback.
#include <ATen/ops/from_blob.h>
#include <dlfcn.h>

#include <cstdio>
#include <imret/core/embedding_set.hpp>
#include <imret/core/feedback.hpp>
#include <imret/core/progress.hpp>
#include <imret/core/version.hpp>
#include <imret/search/index.hpp>
#include <string>
#include <vector>

namespace {

// "1 3 | 2 3": each query's ids, best first.
std::string ids_of(const imret::search::SearchResult& result) {
  std::string text;
  for (int64_t q = 0; q < result.ids.size(0); ++q) {
    for (int64_t j = 0; j < result.ids.size(1); ++j)
      text += (j ? " " : q ? " | " : "") + std::to_string(result.ids.data_ptr<int64_t>()[q * result.ids.size(1) + j]);
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  imret::CollectingFeedback feedback;
  imret::FeedbackScope scope(feedback);
  std::printf("version %s\n", imret::kVersion);

  std::vector<float> corners = {0, 0, 10, 0, 0, 10, 10, 10};
  std::vector<imret::EmbeddedItem> items;
  for (int64_t i = 0; i < 4; ++i) items.push_back({i, "corner" + std::to_string(i), i % 2, "class" + std::to_string(i % 2), {}});
  imret::save_embedding_set(argv[1], corners.data(), 4, 2, items, {{"by", "consumer"}});
  imret::EmbeddingSet set = imret::load_embedding_set(argv[1]);
  std::printf("set %lld x %lld:", static_cast<long long>(set.embeddings.rows), static_cast<long long>(set.embeddings.cols));
  for (const imret::EmbeddedItem& item : set.items) std::printf(" %s/%lld", item.source.c_str(), static_cast<long long>(item.label));
  std::printf("\n");

  const at::Tensor database = at::from_blob(set.embeddings.values.data(), {set.embeddings.rows, set.embeddings.cols});
  std::vector<float> points = {9, 2, 2, 9};
  const at::Tensor queries = at::from_blob(points.data(), {2, 2});
  std::vector<std::string> specs = {"exact"};
#ifdef IMRET_WITH_FAISS
  specs.push_back("faiss:Flat");
#endif
  for (const std::string& spec : specs) {
    auto index = imret::search::make_index(spec, c10::kCPU);
    index->add(database);
    std::printf("%s %s\n", spec.c_str(), ids_of(index->search(queries, 2)).c_str());
  }

  {
    imret::Progress progress("consumer", 3, "steps");
    progress.advance(3);
  }
  const auto events = feedback.events();
  std::printf("feedback %zu events, finished %s %lld/%lld\n", events.size(), events.back().progress.label.c_str(),
              static_cast<long long>(events.back().progress.done), static_cast<long long>(events.back().progress.total));

  void* module = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
  if (!module) {
    std::fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  auto version = reinterpret_cast<const char* (*)()>(dlsym(module, "consumer_module_version"));
  std::printf("module %s\n", version ? version() : "without its function");
  return 0;
}
CPP

cmake -S "$app" -B "$app/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DCMAKE_CXX_COMPILER="$(setting CMAKE_CXX_COMPILER)" >"$work/configure.log" 2>&1 ||
  fail "find_package(imret) failed: $(grep -A5 -i error "$work/configure.log" | head -20)"
if grep -lF -e "$IMRET_SOURCE_DIR" -e "$IMRET_BUILD_DIR" "$app/build/build.ninja" "$app/build/compile_commands.json"; then
  fail "the consumer's build points into imret's folders"
fi
cmake --build "$app/build" >"$work/build.log" 2>&1 || fail "the consumer did not build: $(grep -m5 -i error "$work/build.log")"
"$app/build/consumer" "$work/set" "$app/build/libconsumer_module.so" >"$work/consumer.out" 2>"$work/consumer.err" ||
  fail "the consumer failed: $(cat "$work/consumer.err")"
[[ ! -s $work/consumer.err ]] || fail "the consumer printed on stderr (not to its own sink): $(cat "$work/consumer.err")"

# (9, 2) is nearest corner 1 (10, 0), then 3 (10, 10); (2, 9) corner 2 (0, 10), then 3.
expected="version $(setting CMAKE_PROJECT_VERSION)
set 4 x 2: corner0/0 corner1/1 corner2/0 corner3/1
exact 1 3 | 2 3"
if [[ $(setting IMRET_WITH_FAISS) == ON ]]; then expected+=$'\nfaiss:Flat 1 3 | 2 3'; fi
expected+=$'\nfeedback 3 events, finished consumer 3/3'
expected+=$'\nmodule '"$(setting CMAKE_PROJECT_VERSION)"
[[ $(cat "$work/consumer.out") == "$expected" ]] ||
  fail "the consumer printed:
$(cat "$work/consumer.out")
expected:
$expected"
[[ -s $work/set/embeddings.npy && -s $work/set/items.jsonl ]] || fail "the consumer's embedding set is not on disk"
echo "find_package: ok"
