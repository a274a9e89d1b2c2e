#include "imret/eval/metrics.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <functional>
#include <iomanip>
#include <sstream>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

namespace imret::eval {

namespace {

// ---------------------------------------------------------------------------
// Sorting. A ranked item is packed into 64 bits: the high 32 bits are a key
// whose ascending order is the descending order of the score, bits 1..31 the
// item's database index (the graded metrics look its gain up), the low bit
// the relevance. LSD radix sort on the key is stable, so tied items keep
// database order (lower index first).

constexpr int kDigitBits[3] = {11, 11, 10};
constexpr int kDigitShift[3] = {32, 43, 54};
constexpr int kBuckets = 2048;
constexpr uint64_t kIndexMask = 0x7FFFFFFFu;  // 31 bits of database index

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
  // Graded metrics.
  std::vector<float> positive_gains;              // gains > 0 of the kept items; ideal top K / gain levels
  std::vector<double> discount, discount_cumsum;  // sklearn's DCG discount of rank i, and its running sum
  struct TieGroup {
    int64_t begin, end;
    double gain_sum;
  };
  std::vector<TieGroup> groups;        // tie groups that start within the top K
  std::vector<double> fenwick_sum;     // graded AP: gains seen so far, by gain level
  std::vector<int64_t> fenwick_count;  // graded AP: items seen so far, by gain level
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

inline uint64_t pack(float score, int8_t grade, int64_t index) {
  return (static_cast<uint64_t>(descending_key(score)) << 32) | ((static_cast<uint64_t>(index) & kIndexMask) << 1) |
         (grade > 0 ? 1u : 0u);
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
    const uint64_t item = pack(scores[i], relevance[i], i);
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
    const uint64_t item = pack(scores[i], relevance[i], i);
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
inline int64_t index_of(uint64_t item) { return static_cast<int64_t>((item >> 1) & kIndexMask); }

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

// ---------------------------------------------------------------------------
// Graded metrics over the sorted items. A sorted item's gain is gains[index],
// or its relevance bit when the caller gave no gains.

struct GainOf {
  const float* gains;  // nullptr: the 0/1 relevance
  double operator()(uint64_t item) const {
    return gains ? static_cast<double>(gains[index_of(item)]) : static_cast<double>(item & 1u);
  }
};

// Checks the gains of the kept items (not NaN, >= 0), keeps the positive ones
// in s.positive_gains and returns their sum (in database order).
double collect_gains(const float* gains, const int8_t* relevance, int64_t n, Scratch& s) {
  s.positive_gains.clear();
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (relevance[i] < 0) continue;
    const float g = gains ? gains[i] : (relevance[i] > 0 ? 1.0f : 0.0f);
    if (!(g >= 0.0f))
      throw Error("evaluate_query: gain " + std::to_string(i) + " is " + std::to_string(g) +
                  " (gains of items that are not excluded must be >= 0)");
    if (g > 0.0f) {
      s.positive_gains.push_back(g);
      total += g;
    }
  }
  return total;
}

// Extends s.discount / s.discount_cumsum to `size` ranks. The discount of rank
// i (0-based) is sklearn's 1 / (log(i + 2) / log(2)); the running sum is
// sequential like np.cumsum, so extending never changes earlier values.
void extend_discounts(Scratch& s, int64_t size) {
  const double log2 = std::log(2.0);
  for (int64_t i = static_cast<int64_t>(s.discount.size()); i < size; ++i) {
    const double d = 1.0 / (std::log(static_cast<double>(i) + 2.0) / log2);
    s.discount.push_back(d);
    s.discount_cumsum.push_back(i == 0 ? d : s.discount_cumsum.back() + d);
  }
}

// Sum of the discounts of ranks [begin, end).
double discount_sum(const Scratch& s, int64_t begin, int64_t end) {
  return s.discount_cumsum[end - 1] - (begin > 0 ? s.discount_cumsum[begin - 1] : 0.0);
}

// The tie groups (runs of equal score) that start within the first `top`
// ranks, each with the sum of its gains over the whole group (the last one
// may run past `top`).
void tie_groups(Scratch& s, GainOf gain_of, int64_t top) {
  s.groups.clear();
  const uint64_t* items = s.items.data();
  const int64_t n = static_cast<int64_t>(s.items.size());
  int64_t i = 0;
  while (i < top) {
    const uint32_t key = key_of(items[i]);
    Scratch::TieGroup group{i, i, 0.0};
    for (; i < n && key_of(items[i]) == key; ++i) group.gain_sum += gain_of(items[i]);
    group.end = i;
    s.groups.push_back(group);
  }
}

// Puts the largest min(top, P) positive gains first in s.positive_gains,
// descending (partial selection: O(P + top log top)).
int64_t select_ideal_top(Scratch& s, int64_t top) {
  auto& g = s.positive_gains;
  const int64_t size = std::min<int64_t>(top, static_cast<int64_t>(g.size()));
  std::nth_element(g.begin(), g.begin() + size, g.end(), std::greater<float>());
  std::sort(g.begin(), g.begin() + size, std::greater<float>());
  return size;
}

// nDCG@K as sklearn.metrics.ndcg_score(..., k=K, ignore_ties=False): a tie
// group contributes its mean gain times the discounts of its ranks within the
// top K; the ideal DCG sorts the gains. Needs total gain > 0.
void ndcg_at_k(Scratch& s, GainOf gain_of, const std::vector<int>& ks, QueryMetrics& m) {
  const int64_t n = static_cast<int64_t>(s.items.size());
  const int64_t top = std::min<int64_t>(*std::max_element(ks.begin(), ks.end()), n);
  extend_discounts(s, top);
  tie_groups(s, gain_of, top);
  const int64_t ideal_size = select_ideal_top(s, top);
  for (size_t j = 0; j < ks.size(); ++j) {
    const int64_t k = std::min<int64_t>(ks[j], n);
    double dcg = 0;
    for (const auto& group : s.groups) {
      if (group.begin >= k) break;
      const double mean_gain = group.gain_sum / static_cast<double>(group.end - group.begin);
      dcg += mean_gain * discount_sum(s, group.begin, std::min(group.end, k));
    }
    double ideal = 0;
    for (int64_t i = 0; i < std::min(k, ideal_size); ++i) ideal += s.discount[i] * s.positive_gains[i];
    m.ndcg_at_k[j] = dcg / ideal;
  }
}

// Prefix sums over gain levels (Fenwick tree, 1-based inside).
template <typename T>
void fenwick_add(std::vector<T>& tree, size_t level, T value) {
  for (size_t i = level + 1; i <= tree.size(); i += i & (~i + 1)) tree[i - 1] += value;
}
template <typename T>
T fenwick_prefix(const std::vector<T>& tree, size_t levels) {  // sum over levels [0, levels)
  T sum = 0;
  for (size_t i = levels; i > 0; i -= i & (~i + 1)) sum += tree[i - 1];
  return sum;
}

// Graded AP = (1 / sum_n g_n) sum_n (1/n) sum_{m<=n} min(g_m, g_n), ranks n in
// score order, ties by database order. The inner sum splits into the earlier
// gains below g_n plus g_n times the earlier items at or above it, read from
// two Fenwick trees over the distinct positive gains: O(P log P).
// s.positive_gains must hold the positive gains (any order). Needs total > 0.
double graded_average_precision(Scratch& s, GainOf gain_of, double total) {
  std::vector<float>& levels = s.positive_gains;
  std::sort(levels.begin(), levels.end());
  const int64_t positives = static_cast<int64_t>(levels.size());
  levels.erase(std::unique(levels.begin(), levels.end()), levels.end());
  s.fenwick_sum.assign(levels.size(), 0.0);
  s.fenwick_count.assign(levels.size(), 0);
  const uint64_t* items = s.items.data();
  double sum = 0;
  int64_t seen = 0;
  for (int64_t rank = 1; seen < positives; ++rank) {
    const double g = gain_of(items[rank - 1]);
    if (g <= 0) continue;
    const size_t level =
        static_cast<size_t>(std::lower_bound(levels.begin(), levels.end(), static_cast<float>(g)) - levels.begin());
    const double below = fenwick_prefix(s.fenwick_sum, level);
    const int64_t at_or_above = seen - fenwick_prefix(s.fenwick_count, level);
    sum += (below + g * static_cast<double>(at_or_above + 1)) / static_cast<double>(rank);
    fenwick_add(s.fenwick_sum, level, g);
    fenwick_add<int64_t>(s.fenwick_count, level, 1);
    ++seen;
  }
  return sum / total;
}

// Fills the graded fields of `m` (zeros when nothing has a positive gain).
void graded_metrics(Scratch& s, const int8_t* relevance, int64_t n, const float* gains, const MetricOptions& options,
                    QueryMetrics& m) {
  m.total_gain = collect_gains(gains, relevance, n, s);
  m.ndcg_at_k.assign(options.ndcg_ks.size(), 0.0);
  if (m.total_gain <= 0) return;
  const GainOf gain_of{gains};
  if (!options.ndcg_ks.empty()) ndcg_at_k(s, gain_of, options.ndcg_ks, m);
  if (options.graded_ap) m.graded_average_precision = graded_average_precision(s, gain_of, m.total_gain);
}

void check_options(const MetricOptions& options) {
  for (int k : options.ks)
    if (k < 1) throw Error("metric options: every k must be >= 1 (got " + std::to_string(k) + ")");
  if (options.pr_points < 2)
    throw Error("metric options: pr_points must be >= 2 (got " + std::to_string(options.pr_points) + ")");
  for (int k : options.ndcg_ks)
    if (k < 1) throw Error("metric options: every nDCG k must be >= 1 (got " + std::to_string(k) + ")");
}

std::string format_k(int k) { return std::to_string(k); }

}  // namespace

QueryMetrics evaluate_query(const float* scores, const int8_t* relevance, int64_t n, const MetricOptions& options,
                            const float* gains) {
  check_options(options);
  if (options.graded() && n > static_cast<int64_t>(kIndexMask) + 1)
    throw Error("evaluate_query: graded metrics handle at most 2^31 database items (got " + std::to_string(n) + ")");
  Scratch& s = scratch();
  QueryMetrics m;
  m.num_relevant = sort_items(scores, relevance, n, s);
  if (options.graded()) graded_metrics(s, relevance, n, gains, options, m);
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
  ndcg_at_k_.assign(options_.ndcg_ks.size(), 0.0);
}

void MetricsAccumulator::add(const QueryMetrics& m) {
  if (m.precision_at_k.size() != precision_at_k_.size() || m.recall_at_k.size() != recall_at_k_.size() ||
      m.hit_rate_at_k.size() != hit_rate_at_k_.size() ||
      m.interpolated_precision.size() != interpolated_precision_.size())
    throw Error("MetricsAccumulator::add: query metrics were computed with other options (ks / pr_points)");
  if (options_.graded() && m.ndcg_at_k.size() != ndcg_at_k_.size())
    throw Error("MetricsAccumulator::add: query metrics were computed with other options (ndcg_ks)");
  ++queries_;
  if (options_.graded()) add_graded(m);
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

// The graded means have their own denominator: queries whose gains sum to > 0.
void MetricsAccumulator::add_graded(const QueryMetrics& m) {
  if (m.total_gain <= 0) {
    ++without_gain_;
    return;
  }
  graded_average_precision_ += m.graded_average_precision;
  for (size_t i = 0; i < ndcg_at_k_.size(); ++i) ndcg_at_k_[i] += m.ndcg_at_k[i];
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
  s.ndcg_ks = options_.ndcg_ks;
  s.graded_ap = options_.graded_ap;
  s.queries_without_gain = without_gain_;
  const int64_t graded = queries_ - without_gain_;
  const double graded_scale = graded > 0 ? 1.0 / static_cast<double>(graded) : 0.0;
  s.graded_map = graded_average_precision_ * graded_scale;
  for (double sum : ndcg_at_k_) s.ndcg_at_k.push_back(sum * graded_scale);
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
  if (!ndcg_ks.empty()) {
    nlohmann::json ndcg = nlohmann::json::object();
    for (size_t i = 0; i < ndcg_ks.size(); ++i) ndcg[format_k(ndcg_ks[i])] = ndcg_at_k.at(i);
    j["nDCG@K"] = ndcg;
  }
  if (graded_ap) j["graded mAP"] = graded_map;
  if (graded()) j["queries_without_gain"] = queries_without_gain;
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
  for (size_t i = 0; i < ndcg_ks.size(); ++i) row("nDCG@" + format_k(ndcg_ks[i]), ndcg_at_k.at(i));
  if (graded_ap) row("graded mAP", graded_map);
  if (graded() && queries_without_gain > 0)
    out << "  (graded: " << queries_without_gain << " queries without any gain, not counted)\n";
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
