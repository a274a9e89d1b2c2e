// COCO instances loading: imret's read_coco_instances (simdjson On Demand,
// src/imret/data/coco_annotations.hpp) against Python's json.load plus the
// per-image index pycocotools' COCO() builds (bench/coco_load_peer.py), on the
// same train2014-sized file, in one run.
//
//   build/bench/imret_bench_coco_load [--work DIR] [--images 82783]
//       [--annotations 604907] [--rounds 3] [--seed 0] [--no-peer]
//
// The file: a synthetic instances_train2014.json (the real one is not here),
// generated into --work (default <tmp>/imret_bench_coco) unless a file of the
// same size parameters is already there: --images images (640 x 480 or
// portrait), --annotations annotations spread over them at random, the 80
// COCO categories with their real ids (1..90 with gaps, "person" a quarter of
// the annotations), about 1% crowd (uncompressed RLE), the others a polygon
// of 8 to 48 points with two decimals, like the real file (its 604,907
// annotations take about 330 MB: some 550 bytes each).
//
// Each load runs in a child process, so that its peak resident memory is its
// own (imret: VmHWM of a forked child; Python: getrusage in the peer). Both
// print the resident memory before the load too (the process itself).
// Prints the round with the least CPU time of --rounds (wall-clock seconds
// and CPU seconds, the CPU ones steadier on a busy machine), the largest
// peak, and the ratios.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "imret/core/atomic_file.hpp"
#include "imret/data/coco_annotations.hpp"
#include "options.hpp"

namespace fs = std::filesystem;

namespace {

// The 80 COCO categories: id and name (ids 1..90, ten missing).
const std::vector<std::pair<int, const char*>>& coco_categories() {
  static const std::vector<std::pair<int, const char*>> categories = {
      {1, "person"},         {2, "bicycle"},       {3, "car"},
      {4, "motorcycle"},     {5, "airplane"},      {6, "bus"},
      {7, "train"},          {8, "truck"},         {9, "boat"},
      {10, "traffic light"}, {11, "fire hydrant"}, {13, "stop sign"},
      {14, "parking meter"}, {15, "bench"},        {16, "bird"},
      {17, "cat"},           {18, "dog"},          {19, "horse"},
      {20, "sheep"},         {21, "cow"},          {22, "elephant"},
      {23, "bear"},          {24, "zebra"},        {25, "giraffe"},
      {27, "backpack"},      {28, "umbrella"},     {31, "handbag"},
      {32, "tie"},           {33, "suitcase"},     {34, "frisbee"},
      {35, "skis"},          {36, "snowboard"},    {37, "sports ball"},
      {38, "kite"},          {39, "baseball bat"}, {40, "baseball glove"},
      {41, "skateboard"},    {42, "surfboard"},    {43, "tennis racket"},
      {44, "bottle"},        {46, "wine glass"},   {47, "cup"},
      {48, "fork"},          {49, "knife"},        {50, "spoon"},
      {51, "bowl"},          {52, "banana"},       {53, "apple"},
      {54, "sandwich"},      {55, "orange"},       {56, "broccoli"},
      {57, "carrot"},        {58, "hot dog"},      {59, "pizza"},
      {60, "donut"},         {61, "cake"},         {62, "chair"},
      {63, "couch"},         {64, "potted plant"}, {65, "bed"},
      {67, "dining table"},  {70, "toilet"},       {72, "tv"},
      {73, "laptop"},        {74, "mouse"},        {75, "remote"},
      {76, "keyboard"},      {77, "cell phone"},   {78, "microwave"},
      {79, "oven"},          {80, "toaster"},      {81, "sink"},
      {82, "refrigerator"},  {84, "book"},         {85, "clock"},
      {86, "vase"},          {87, "scissors"},     {88, "teddy bear"},
      {89, "hair drier"},    {90, "toothbrush"}};
  return categories;
}

struct SyntheticImage {
  int64_t id;
  int width, height;
};

// Appends printf-style text to `out`.
template <typename... Args>
void appendf(std::string& out, const char* format, Args... args) {
  char buffer[256];
  const int n = std::snprintf(buffer, sizeof buffer, format, args...);
  out.append(buffer, static_cast<size_t>(std::min<int>(n, sizeof buffer - 1)));
}

// A polygon of `points` vertices around an ellipse inside the box, as the
// real file writes it: [[x1,y1,x2,y2,...]] with two decimals.
void append_polygon(std::string& out, std::mt19937_64& rng, const double box[4], int points) {
  std::uniform_real_distribution<double> wobble(0.75, 1.0);
  out += "[[";
  for (int p = 0; p < points; ++p) {
    const double t = 2 * M_PI * p / points, r = wobble(rng);
    const double x = box[0] + box[2] * (0.5 + 0.5 * r * std::cos(t)),
                 y = box[1] + box[3] * (0.5 + 0.5 * r * std::sin(t));
    appendf(out, p ? ",%.2f,%.2f" : "%.2f,%.2f", x, y);
  }
  out += "]]";
}

// An uncompressed RLE over the image with `runs` runs (as crowd regions are).
void append_rle(std::string& out, std::mt19937_64& rng, const SyntheticImage& image, int runs) {
  const int64_t pixels = int64_t{image.width} * image.height;
  std::vector<int64_t> cuts(static_cast<size_t>(runs - 1));
  std::uniform_int_distribution<int64_t> position(0, pixels);
  for (int64_t& cut : cuts) cut = position(rng);
  std::sort(cuts.begin(), cuts.end());
  out += "{\"counts\":[";
  int64_t previous = 0;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    const int64_t next = i < cuts.size() ? cuts[i] : pixels;
    appendf(out, i ? ",%lld" : "%lld", static_cast<long long>(next - previous));
    previous = next;
  }
  appendf(out, "],\"size\":[%d,%d]}", image.height, image.width);
}

// Writes the synthetic instances file (see the top of this file), in the
// real file's key order, compact like it.
void generate(const fs::path& path, int64_t image_count, int64_t annotation_count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> ids(581929);  // train2014's ids lie in 1..581929
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int64_t>(i) + 1;
  std::shuffle(ids.begin(), ids.end(), rng);
  ids.resize(static_cast<size_t>(std::min<int64_t>(image_count, static_cast<int64_t>(ids.size()))));
  std::vector<SyntheticImage> images;
  std::bernoulli_distribution portrait(0.25);
  for (const int64_t id : ids) {
    const bool tall = portrait(rng);
    images.push_back({id, tall ? 480 : 640, tall ? 640 : 480});
  }

  imret::AtomicFile file(path);
  std::string out;
  out.reserve(1 << 22);
  const auto flush = [&](bool always) {
    if (!always && out.size() < (1u << 21)) return;
    file.stream().write(out.data(), static_cast<std::streamsize>(out.size()));
    out.clear();
  };
  out +=
      "{\"info\":{\"description\":\"imret synthetic COCO 2014 train\",\"url\":\"\",\"version\":\"1.0\","
      "\"year\":2014,\"contributor\":\"imret bench\",\"date_created\":\"2024-01-01 00:00:00\"},\"images\":[";
  for (size_t i = 0; i < images.size(); ++i) {
    const SyntheticImage& image = images[i];
    appendf(out,
            "%s{\"license\":3,\"file_name\":\"COCO_train2014_%012lld.jpg\",\"coco_url\":\"http://images.cocodataset."
            "org/train2014/COCO_train2014_%012lld.jpg\",\"height\":%d,\"width\":%d,",
            i ? "," : "", static_cast<long long>(image.id), static_cast<long long>(image.id), image.height,
            image.width);
    appendf(out,
            "\"date_captured\":\"2013-11-14 16:28:13\",\"flickr_url\":\"http://farm5.staticflickr.com/4/%lld.jpg\","
            "\"id\":%lld}",
            static_cast<long long>(image.id) * 7, static_cast<long long>(image.id));
    flush(false);
  }
  out +=
      "],\"licenses\":[{\"url\":\"http://creativecommons.org/licenses/by-nc-sa/2.0/\",\"id\":3,"
      "\"name\":\"Attribution-NonCommercial-ShareAlike License\"}],\"annotations\":[";

  const auto& categories = coco_categories();
  std::vector<double> weights(categories.size(), 1.0);
  weights[0] = 26.0;  // "person": about a quarter
  std::discrete_distribution<size_t> category(weights.begin(), weights.end());
  std::uniform_int_distribution<size_t> image_of(0, images.size() - 1);
  std::bernoulli_distribution crowd(0.01);
  std::uniform_int_distribution<int> points(8, 48), runs(40, 400);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int64_t a = 0; a < annotation_count; ++a) {
    const SyntheticImage& image = images[image_of(rng)];
    const bool is_crowd = crowd(rng);
    const double w = 4 + unit(rng) * unit(rng) * (image.width - 8), h = 4 + unit(rng) * unit(rng) * (image.height - 8);
    const double box[4] = {unit(rng) * (image.width - w), unit(rng) * (image.height - h), w, h};
    out += a ? ",{\"segmentation\":" : "{\"segmentation\":";
    if (is_crowd)
      append_rle(out, rng, image, runs(rng));
    else
      append_polygon(out, rng, box, points(rng));
    appendf(out, ",\"area\":%.17g,\"iscrowd\":%d,\"image_id\":%lld,\"bbox\":[%.2f,%.2f,%.2f,%.2f],", w * h * 0.8,
            is_crowd ? 1 : 0, static_cast<long long>(image.id), box[0], box[1], box[2], box[3]);
    appendf(out, "\"category_id\":%d,\"id\":%lld}", categories[category(rng)].first,
            static_cast<long long>(is_crowd ? 900100000000 + a : a + 1));
    flush(false);
  }
  out += "],\"categories\":[";
  for (size_t c = 0; c < categories.size(); ++c) {
    appendf(out, "%s{\"supercategory\":\"thing\",\"id\":%d,\"name\":\"%s\"}", c ? "," : "", categories[c].first,
            categories[c].second);
  }
  out += "]}";
  flush(true);
  file.commit();
}

// Resident memory of this process now (VmRSS) or at its peak (VmHWM), in KB.
long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field, 0) == 0) return std::stol(line.substr(std::string(field).size()));
  }
  return 0;
}

struct Load {
  bool ok = false;
  double seconds = 0;
  double cpu_seconds = 0;  // user + system: steadier than the wall clock on a busy machine
  double rss_before_mb = 0, peak_mb = 0;
  long long images = 0, annotations = 0, crowd = 0;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU seconds (user + system) of this process so far.
double cpu_seconds() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// read_coco_instances in a forked child; its peak RSS from wait4.
Load load_with_imret(const fs::path& path) {
  int fds[2];
  if (pipe(fds) != 0) return {};
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    const long before = status_kb("VmRSS:");
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = cpu_seconds();
    char line[256];
    int n = 0;
    try {
      const imret::data::CocoInstances c = imret::data::read_coco_instances(path);
      n = std::snprintf(line, sizeof line, "%.6f %.6f %ld %zu %lld %lld\n", seconds_since(start),
                        cpu_seconds() - cpu_start, before, c.images.size(), static_cast<long long>(c.annotation_count),
                        static_cast<long long>(c.crowd_count));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      _exit(1);
    }
    (void)!write(fds[1], line, static_cast<size_t>(n));
    _exit(0);
  }
  close(fds[1]);
  Load load;
  char text[256] = {0};
  const ssize_t got = read(fds[0], text, sizeof text - 1);
  close(fds[0]);
  int status = 0;
  struct rusage usage {};
  wait4(child, &status, 0, &usage);
  long before = 0;
  if (got > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
      std::sscanf(text, "%lf %lf %ld %lld %lld %lld", &load.seconds, &load.cpu_seconds, &before, &load.images,
                  &load.annotations, &load.crowd) == 6) {
    load.ok = true;
    load.rss_before_mb = before / 1024.0;
    load.peak_mb = usage.ru_maxrss / 1024.0;
  }
  return load;
}

Load load_with_python(const fs::path& path) {
  const std::string command =
      std::string("/usr/bin/python3 ") + IMRET_SOURCE_DIR + "/bench/coco_load_peer.py " + path.string();
  FILE* pipe = popen(command.c_str(), "r");
  Load load;
  long before = 0, peak = 0;
  if (pipe && std::fscanf(pipe, "%lf %lf %ld %ld %lld %lld %lld", &load.seconds, &load.cpu_seconds, &before, &peak,
                          &load.images, &load.annotations, &load.crowd) == 7) {
    load.ok = pclose(pipe) == 0;
    load.rss_before_mb = before / 1024.0;
    load.peak_mb = peak / 1024.0;
  } else {
    std::fprintf(stderr, "the peer failed: %s\n", command.c_str());
    if (pipe) pclose(pipe);
  }
  return load;
}

// The best seconds and the largest peak over `rounds` loads.
template <typename F>
Load best_of(int64_t rounds, F&& load_once) {
  Load best;
  for (int64_t r = 0; r < rounds; ++r) {
    const Load load = load_once();
    if (!load.ok) return load;
    if (!best.ok || load.cpu_seconds < best.cpu_seconds) {
      const double peak = std::max(best.peak_mb, load.peak_mb);
      best = load;
      best.peak_mb = peak;
    } else {
      best.peak_mb = std::max(best.peak_mb, load.peak_mb);
    }
  }
  return best;
}

void print_row(const char* name, const Load& load) {
  std::printf("  %-32s %7.2f s (CPU %6.2f s)  peak RSS %6.0f MB (%.0f MB before the load)\n", name, load.seconds,
              load.cpu_seconds, load.peak_mb, load.rss_before_mb);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  imret::bench::Options options;
  if (!imret::bench::parse_options(argc, argv, "coco_load", options)) return 2;
  try {
    const int64_t images = options.integer("images", 82783), annotations = options.integer("annotations", 604907);
    const int64_t rounds = std::max<int64_t>(1, options.integer("rounds", 3));
    const fs::path work = options.text("work", (fs::temp_directory_path() / "imret_bench_coco").string());
    const fs::path file = work / ("instances_synthetic_" + std::to_string(images) + "_" + std::to_string(annotations) +
                                  "_seed" + std::to_string(options.integer("seed", 0)) + ".json");
    if (!fs::exists(file)) {
      std::printf("generating %s ...\n", file.string().c_str());
      std::fflush(stdout);
      const auto start = std::chrono::steady_clock::now();
      generate(file, images, annotations, static_cast<uint64_t>(options.integer("seed", 0)));
      std::printf("  took %.1f s\n", seconds_since(start));
    }
    std::printf("COCO instances file %s: %.1f MB, %lld images, %lld annotations, best of %lld rounds\n",
                file.string().c_str(), fs::file_size(file) / 1e6, static_cast<long long>(images),
                static_cast<long long>(annotations), static_cast<long long>(rounds));
    const Load ours = best_of(rounds, [&] { return load_with_imret(file); });
    if (!ours.ok) return 1;
    std::printf("  (read %lld images, %lld annotations, %lld crowd)\n", ours.images, ours.annotations, ours.crowd);
    print_row("imret read_coco_instances", ours);
    if (!options.peer) return 0;
    const Load theirs = best_of(rounds, [&] { return load_with_python(file); });
    if (!theirs.ok) return 1;
    print_row("Python json.load + COCO() index", theirs);
    if (theirs.images != ours.images || theirs.annotations != ours.annotations || theirs.crowd != ours.crowd) {
      std::printf("  the counts differ: Python read %lld images, %lld annotations, %lld crowd\n", theirs.images,
                  theirs.annotations, theirs.crowd);
      return 1;
    }
    std::printf("  imret is x%.1f as fast as Python (x%.1f in CPU time), with x%.1f less peak memory\n",
                theirs.seconds / ours.seconds, theirs.cpu_seconds / ours.cpu_seconds, theirs.peak_mb / ours.peak_mb);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
