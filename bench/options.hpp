#pragma once
// Command-line options of the benchmark programs: `--name value` pairs and
// `--no-peer`. Each program lists its options in the comment at its top.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace imret::bench {

struct Options {
  std::map<std::string, std::string> values;  // by name, without the "--"
  bool peer = true;                           // false with --no-peer

  bool has(const std::string& name) const { return values.count(name) > 0; }
  std::string text(const std::string& name, const std::string& fallback) const {
    return has(name) ? values.at(name) : fallback;
  }
  int64_t integer(const std::string& name, int64_t fallback) const {
    return has(name) ? std::stoll(values.at(name)) : fallback;
  }
};

// Parses argv; false (after a message naming `program`'s source) on an
// argument that is neither --no-peer nor --name value.
inline bool parse_options(int argc, char** argv, const char* program, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--no-peer") {
      options.peer = false;
    } else if (flag.rfind("--", 0) == 0 && i + 1 < argc) {
      options.values[flag.substr(2)] = argv[++i];
    } else {
      std::fprintf(stderr, "unknown argument %s (see the comment at the top of bench/%s.cpp)\n", argv[i], program);
      return false;
    }
  }
  return true;
}

// The fastest of `repeat` runs of f, in seconds.
template <typename F>
double best_seconds(int64_t repeat, F&& f) {
  double best = 1e30;
  for (int64_t r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// "a,b,,c" -> {"a", "b", "c"}: the non-empty items of a list option.
inline std::vector<std::string> split_list(const std::string& text, char separator = ',') {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, separator);)
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace imret::bench
