#include "imret/eval/metrics.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <sstream>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

namespace imret::eval {

namespace {

// ---------------------------------------------------------------------------
// Sorting. A ranked item is packed into 64 bits: the high 32 bits are a key
// whose ascending order is the descending order of the score, the low bit is
// the relevance. LSD radix sort on the key is stable, so tied items keep
// database order (lower index first).

constexpr int kDigitBits[3] = {11, 11, 10};
constexpr int kDigitShift[3] = {32, 43, 54};
constexpr int kBuckets = 2048;

// Maps a float to a uint32 whose ascending order is the float's descending
// order. -0 and +0 map to the same key; NaN is rejected by the caller.
inline uint32_t descending_key(float score) {
  score += 0.0f;  // -0 -> +0
  uint32_t bits;
  std::memcpy(&bits, &score, sizeof bits);
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return ~ascending;
}

inline uint32_t digit(uint64_t item, int pass) {
  return static_cast<uint32_t>(item >> kDigitShift[pass]) & ((1u << kDigitBits[pass]) - 1);
}

struct Scratch {
  std::vector<uint64_t> items, buffer;
  std::vector<int64_t> threshold_tp;  // true positives at thresholds where tp grew
  std::vector<double> threshold_precision;
  std::array<std::array<uint32_t, kBuckets>, 3> histogram;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

inline uint64_t pack(float score, int8_t grade) {
  return (static_cast<uint64_t>(descending_key(score)) << 32) | (grade > 0 ? 1u : 0u);
}

// Turns counts into start offsets; false when one bucket holds every item
// (the pass would not move anything).
bool counts_to_offsets(std::array<uint32_t, kBuckets>& counts, size_t n) {
  bool moves = true;
  uint32_t offset = 0;
  for (auto& c : counts) {
    if (c == n) moves = false;
    const uint32_t size = c;
    c = offset;
    offset += size;
  }
  return moves;
}

// Sorts the non-excluded items into s.items, ascending key (= descending
// score), stable. Pass 1 reads the input for the digit histograms; pass 2
// packs the items straight into their places by the lowest digit; the two
// higher digits follow unless every item shares them.
// Returns the number of relevant items.
int64_t sort_items(const float* scores, const int8_t* relevance, int64_t n, Scratch& s) {
  for (auto& h : s.histogram) h.fill(0);
  int64_t kept = 0, relevant = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (relevance[i] < 0) continue;
    if (std::isnan(scores[i])) throw Error("evaluate_query: score " + std::to_string(i) + " is NaN");
    const uint64_t item = pack(scores[i], relevance[i]);
    relevant += item & 1u;
    ++kept;
    for (int pass = 0; pass < 3; ++pass) ++s.histogram[pass][digit(item, pass)];
  }
  const size_t size = static_cast<size_t>(kept);
  s.items.resize(size);
  s.buffer.resize(size);
  counts_to_offsets(s.histogram[0], size);
  uint32_t* first = s.histogram[0].data();
  uint64_t* dst = s.items.data();
  for (int64_t i = 0; i < n; ++i) {
    if (relevance[i] < 0) continue;
    const uint64_t item = pack(scores[i], relevance[i]);
    dst[first[digit(item, 0)]++] = item;
  }
  for (int pass = 1; pass < 3; ++pass) {
    auto& offsets = s.histogram[pass];
    if (!counts_to_offsets(offsets, size)) continue;
    const uint64_t* src = s.items.data();
    uint64_t* out = s.buffer.data();
    for (size_t i = 0; i < size; ++i) out[offsets[digit(src[i], pass)]++] = src[i];
    s.items.swap(s.buffer);
  }
  return relevant;
}

inline bool is_relevant(uint64_t item) { return item & 1u; }
inline uint32_t key_of(uint64_t item) { return static_cast<uint32_t>(item >> 32); }

// ---------------------------------------------------------------------------
// Metrics over the sorted items.

// AP exactly as sklearn: one operating point per distinct score; each point
// adds (recall gained) x (precision there). Also records the points where
// recall grows (the only ones that matter to the interpolated PR curve).
double average_precision(Scratch& s, int64_t relevant) {
  s.threshold_tp.clear();
  s.threshold_precision.clear();
  const uint64_t* items = s.items.data();
  const int64_t n = static_cast<int64_t>(s.items.size());
  double sum = 0;
  int64_t tp = 0;
  int64_t i = 0;
  // Only tie groups holding a relevant item move recall: skip to the next
  // relevant item, then to the end of its tie group (the operating point).
  while (true) {
    while (i < n && !is_relevant(items[i])) ++i;
    if (i == n) break;
    const uint32_t key = key_of(items[i]);
    int64_t gained = 0;
    for (; i < n && key_of(items[i]) == key; ++i) gained += is_relevant(items[i]);
    tp += gained;
    const double precision = static_cast<double>(tp) / static_cast<double>(i);
    sum += static_cast<double>(gained) * precision;
    s.threshold_tp.push_back(tp);
    s.threshold_precision.push_back(precision);
  }
  return sum / static_cast<double>(relevant);
}

// mAP@R, R-precision and the reciprocal rank from the first R ranks
// (the first relevant item is within the first n - R + 1 ranks).
void rank_metrics(const Scratch& s, int64_t relevant, QueryMetrics& m) {
  const uint64_t* items = s.items.data();
  int64_t tp = 0;
  double precision_sum = 0;
  for (int64_t i = 0; i < relevant; ++i) {
    if (is_relevant(items[i])) {
      ++tp;
      precision_sum += static_cast<double>(tp) / static_cast<double>(i + 1);
    }
  }
  m.map_at_r = precision_sum / static_cast<double>(relevant);
  m.r_precision = static_cast<double>(tp) / static_cast<double>(relevant);
  int64_t first = 0;
  while (!is_relevant(items[first])) ++first;
  m.reciprocal_rank = 1.0 / static_cast<double>(first + 1);
}

// P@K, R@K and hit@K. Ranks beyond the list count as not relevant.
void cutoff_metrics(const Scratch& s, int64_t relevant, const std::vector<int>& ks, QueryMetrics& m) {
  const uint64_t* items = s.items.data();
  const int64_t n = static_cast<int64_t>(s.items.size());
  for (int k : ks) {
    const int64_t end = std::min<int64_t>(k, n);
    int64_t tp = 0;
    for (int64_t i = 0; i < end; ++i) tp += is_relevant(items[i]);
    m.precision_at_k.push_back(static_cast<double>(tp) / k);
    m.recall_at_k.push_back(static_cast<double>(tp) / static_cast<double>(relevant));
    m.hit_rate_at_k.push_back(tp > 0 ? 1.0 : 0.0);
  }
}

// At recall r_j = j / (points - 1): max precision over thresholds with recall
// >= r_j. Compared in integers (tp * (points - 1) >= j * R) so r_j = 1 is exact.
void interpolated_precision(const Scratch& s, int64_t relevant, int points, QueryMetrics& m) {
  m.interpolated_precision.assign(static_cast<size_t>(points), 0.0);
  int64_t t = static_cast<int64_t>(s.threshold_tp.size()) - 1;
  double best = 0;
  for (int64_t j = points - 1; j >= 0; --j) {
    while (t >= 0 && s.threshold_tp[t] * (points - 1) >= j * relevant) {
      best = std::max(best, s.threshold_precision[t]);
      --t;
    }
    m.interpolated_precision[j] = best;
  }
}

void check_options(const MetricOptions& options) {
  for (int k : options.ks)
    if (k < 1) throw Error("metric options: every k must be >= 1 (got " + std::to_string(k) + ")");
  if (options.pr_points < 2)
    throw Error("metric options: pr_points must be >= 2 (got " + std::to_string(options.pr_points) + ")");
}

std::string format_k(int k) { return std::to_string(k); }

}  // namespace

QueryMetrics evaluate_query(const float* scores, const int8_t* relevance, int64_t n, const MetricOptions& options) {
  check_options(options);
  Scratch& s = scratch();
  QueryMetrics m;
  m.num_relevant = sort_items(scores, relevance, n, s);
  if (m.num_relevant == 0) {
    const size_t ks = options.ks.size();
    m.precision_at_k.assign(ks, 0.0);
    m.recall_at_k.assign(ks, 0.0);
    m.hit_rate_at_k.assign(ks, 0.0);
    m.interpolated_precision.assign(static_cast<size_t>(options.pr_points), 0.0);
    return m;
  }
  m.average_precision = average_precision(s, m.num_relevant);
  rank_metrics(s, m.num_relevant, m);
  cutoff_metrics(s, m.num_relevant, options.ks, m);
  interpolated_precision(s, m.num_relevant, options.pr_points, m);
  return m;
}

// ---------------------------------------------------------------------------

MetricsAccumulator::MetricsAccumulator(MetricOptions options) : options_(std::move(options)) {
  check_options(options_);
  const size_t ks = options_.ks.size();
  precision_at_k_.assign(ks, 0.0);
  recall_at_k_.assign(ks, 0.0);
  hit_rate_at_k_.assign(ks, 0.0);
  interpolated_precision_.assign(static_cast<size_t>(options_.pr_points), 0.0);
}

void MetricsAccumulator::add(const QueryMetrics& m) {
  if (m.precision_at_k.size() != precision_at_k_.size() || m.recall_at_k.size() != recall_at_k_.size() ||
      m.hit_rate_at_k.size() != hit_rate_at_k_.size() ||
      m.interpolated_precision.size() != interpolated_precision_.size())
    throw Error("MetricsAccumulator::add: query metrics were computed with other options (ks / pr_points)");
  ++queries_;
  if (m.num_relevant == 0) {
    ++without_relevant_;
    return;
  }
  average_precision_ += m.average_precision;
  map_at_r_ += m.map_at_r;
  r_precision_ += m.r_precision;
  reciprocal_rank_ += m.reciprocal_rank;
  for (size_t i = 0; i < precision_at_k_.size(); ++i) {
    precision_at_k_[i] += m.precision_at_k[i];
    recall_at_k_[i] += m.recall_at_k[i];
    hit_rate_at_k_[i] += m.hit_rate_at_k[i];
  }
  for (size_t j = 0; j < interpolated_precision_.size(); ++j) interpolated_precision_[j] += m.interpolated_precision[j];
}

Summary MetricsAccumulator::summary() const {
  Summary s;
  s.queries = queries_;
  s.queries_without_relevant = without_relevant_;
  s.ks = options_.ks;
  const int64_t counted = queries_ - without_relevant_;
  const double scale = counted > 0 ? 1.0 / static_cast<double>(counted) : 0.0;
  s.mean_average_precision = average_precision_ * scale;
  s.map_at_r = map_at_r_ * scale;
  s.r_precision = r_precision_ * scale;
  s.mean_reciprocal_rank = reciprocal_rank_ * scale;
  for (size_t i = 0; i < precision_at_k_.size(); ++i) {
    s.precision_at_k.push_back(precision_at_k_[i] * scale);
    s.recall_at_k.push_back(recall_at_k_[i] * scale);
    s.hit_rate_at_k.push_back(hit_rate_at_k_[i] * scale);
  }
  const int points = options_.pr_points;
  for (int j = 0; j < points; ++j) {
    s.pr_recall.push_back(static_cast<double>(j) / (points - 1));
    s.pr_precision.push_back(interpolated_precision_[j] * scale);
  }
  return s;
}

// ---------------------------------------------------------------------------

nlohmann::json Summary::to_json() const {
  nlohmann::json j;
  j["queries"] = queries;
  j["queries_without_relevant"] = queries_without_relevant;
  j["mAP"] = mean_average_precision;
  j["mAP@R"] = map_at_r;
  j["R-precision"] = r_precision;
  j["MRR"] = mean_reciprocal_rank;
  nlohmann::json p = nlohmann::json::object(), r = nlohmann::json::object(), h = nlohmann::json::object();
  for (size_t i = 0; i < ks.size(); ++i) {
    p[format_k(ks[i])] = precision_at_k.at(i);
    r[format_k(ks[i])] = recall_at_k.at(i);
    h[format_k(ks[i])] = hit_rate_at_k.at(i);
  }
  j["P@K"] = p;
  j["R@K"] = r;
  j["hit@K"] = h;
  j["pr_curve"] = {{"recall", pr_recall}, {"precision", pr_precision}};
  return j;
}

std::string Summary::to_table() const {
  std::ostringstream out;
  out << std::fixed << std::setprecision(4);
  auto row = [&](const std::string& name, double value) {
    out << "  " << std::left << std::setw(14) << name << std::right << value << "\n";
  };
  out << "  " << std::left << std::setw(14) << "queries" << queries;
  if (queries_without_relevant > 0) out << " (" << queries_without_relevant << " without relevant items, not counted)";
  out << "\n";
  row("mAP", mean_average_precision);
  row("mAP@R", map_at_r);
  row("R-precision", r_precision);
  row("MRR", mean_reciprocal_rank);
  for (size_t i = 0; i < ks.size(); ++i) {
    const std::string k = format_k(ks[i]);
    out << "  " << std::left << std::setw(14) << ("@" + k) << std::right << "P " << precision_at_k.at(i) << "  R "
        << recall_at_k.at(i) << "  hit " << hit_rate_at_k.at(i) << "\n";
  }
  return out.str();
}

void write_pr_curve_csv(const std::filesystem::path& path, const Summary& summary) {
  if (summary.pr_recall.size() != summary.pr_precision.size())
    throw Error("write_pr_curve_csv: " + path.string() + ": recall and precision have different lengths");
  std::ostringstream out;
  out << std::setprecision(10) << "recall,precision\n";
  for (size_t j = 0; j < summary.pr_recall.size(); ++j)
    out << summary.pr_recall[j] << "," << summary.pr_precision[j] << "\n";
  write_file_atomic(path, out.str());
}

}  // namespace imret::eval
