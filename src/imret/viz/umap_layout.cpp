#include "imret/viz/umap_layout.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <limits>
#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cmath>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <optional>

#include "imret/core/progress.hpp"

namespace imret::viz::umap_detail {
namespace {

constexpr int kCurvePoints = 300;
constexpr int64_t kBlock = 256;  // points per unit of SGD work
constexpr int64_t kNegativeBatch = 8;  // a multiple of 4

// Sum of squared residuals of the curve at (a, b).
double curve_residuals(const std::vector<double>& xs, const std::vector<double>& ys, double a, double b) {
  double sum = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double r = 1.0 / (1.0 + a * std::pow(xs[i], 2 * b)) - ys[i];
    sum += r * r;
  }
  return sum;
}

float clip(float value) { return std::min(4.0f, std::max(-4.0f, value)); }

// log2(x) for finite x > 0, to about 1e-7: x = m 2^e with m in [sqrt(1/2),
// sqrt(2)), log2(m) = 2 / ln 2 * atanh((m - 1) / (m + 1)) by its series.
inline float fast_log2(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  int exponent = static_cast<int>((bits >> 23) & 255u) - 127;
  bits = (bits & 0x007fffffu) | 0x3f800000u;
  float m;
  std::memcpy(&m, &bits, sizeof m);
  if (m > 1.41421356f) {
    m *= 0.5f;
    ++exponent;
  }
  const float t = (m - 1.0f) / (m + 1.0f), t2 = t * t;
  const float series = t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7 + t2 * (1.0f / 9)))));
  return static_cast<float>(exponent) + 2.88539008f * series;  // 2 / ln 2
}

// 2^y to about 1e-7 relative: 2^round(y) by the exponent bits times the
// Taylor series of e^(f ln 2), |f| <= 1/2.
inline float fast_exp2(float y) {
  y = std::min(126.0f, std::max(-126.0f, y));
  const int rounded = static_cast<int>(y + (y >= 0 ? 0.5f : -0.5f));  // no libm call
  const float whole = static_cast<float>(rounded), f = (y - whole) * 0.693147181f;
  const float series =
      1.0f + f * (1.0f + f * (0.5f + f * (1.0f / 6 + f * (1.0f / 24 + f * (1.0f / 120 + f * (1.0f / 720))))));
  const uint32_t bits = static_cast<uint32_t>(rounded + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return series * scale;
}

// x^y for finite x > 0.
inline float power(float x, float y) { return fast_exp2(y * fast_log2(x)); }

// The repulsion coefficients 2 gamma b / ((0.001 + d) (a d^b + 1)) of
// kNegativeBatch squared distances d at once (0 where d = 0), with power()'s
// arithmetic: SSE2, 4 at a time, where there is SSE2.
inline void repulsions(const float* distances, float a, float b, float gamma, float* out) {
#if defined(__SSE2__)
  const __m128 one = _mm_set1_ps(1.0f), half = _mm_set1_ps(0.5f), exponent_y = _mm_set1_ps(b);
  for (int64_t s = 0; s < kNegativeBatch; s += 4) {
    const __m128 distance = _mm_loadu_ps(distances + s);
    const __m128 present = _mm_cmpgt_ps(distance, _mm_setzero_ps());
    const __m128 x = _mm_or_ps(_mm_and_ps(present, distance), _mm_andnot_ps(present, one));  // log of 1, not of 0
    const __m128i bits = _mm_castps_si128(x);
    __m128i exponent =
        _mm_sub_epi32(_mm_and_si128(_mm_srli_epi32(bits, 23), _mm_set1_epi32(255)), _mm_set1_epi32(127));
    __m128 m = _mm_castsi128_ps(_mm_or_si128(_mm_and_si128(bits, _mm_set1_epi32(0x007fffff)), _mm_set1_epi32(0x3f800000)));
    const __m128 big = _mm_cmpgt_ps(m, _mm_set1_ps(1.41421356f));
    m = _mm_or_ps(_mm_and_ps(big, _mm_mul_ps(m, half)), _mm_andnot_ps(big, m));
    exponent = _mm_sub_epi32(exponent, _mm_castps_si128(big));  // the mask is -1: one more
    const __m128 t = _mm_div_ps(_mm_sub_ps(m, one), _mm_add_ps(m, one)), t2 = _mm_mul_ps(t, t);
    __m128 series = _mm_add_ps(_mm_set1_ps(1.0f / 7), _mm_mul_ps(t2, _mm_set1_ps(1.0f / 9)));
    series = _mm_add_ps(_mm_set1_ps(1.0f / 5), _mm_mul_ps(t2, series));
    series = _mm_add_ps(_mm_set1_ps(1.0f / 3), _mm_mul_ps(t2, series));
    series = _mm_mul_ps(t, _mm_add_ps(one, _mm_mul_ps(t2, series)));
    const __m128 log2 = _mm_add_ps(_mm_cvtepi32_ps(exponent), _mm_mul_ps(_mm_set1_ps(2.88539008f), series));
    const __m128 z = _mm_min_ps(_mm_set1_ps(126.0f), _mm_max_ps(_mm_set1_ps(-126.0f), _mm_mul_ps(exponent_y, log2)));
    const __m128i rounded = _mm_cvtps_epi32(z);  // to nearest
    const __m128 f = _mm_mul_ps(_mm_sub_ps(z, _mm_cvtepi32_ps(rounded)), _mm_set1_ps(0.693147181f));
    __m128 taylor = _mm_add_ps(_mm_set1_ps(1.0f / 120), _mm_mul_ps(f, _mm_set1_ps(1.0f / 720)));
    taylor = _mm_add_ps(_mm_set1_ps(1.0f / 24), _mm_mul_ps(f, taylor));
    taylor = _mm_add_ps(_mm_set1_ps(1.0f / 6), _mm_mul_ps(f, taylor));
    taylor = _mm_add_ps(half, _mm_mul_ps(f, taylor));
    taylor = _mm_add_ps(one, _mm_mul_ps(f, taylor));
    taylor = _mm_add_ps(one, _mm_mul_ps(f, taylor));
    const __m128 scale = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(rounded, _mm_set1_epi32(127)), 23));
    const __m128 power_b = _mm_mul_ps(taylor, scale);
    const __m128 denominator = _mm_mul_ps(_mm_add_ps(_mm_set1_ps(0.001f), distance),
                                          _mm_add_ps(_mm_mul_ps(_mm_set1_ps(a), power_b), one));
    _mm_storeu_ps(out + s, _mm_and_ps(present, _mm_div_ps(_mm_set1_ps(2.0f * gamma * b), denominator)));
  }
#else
  for (int64_t s = 0; s < kNegativeBatch; ++s)
    out[s] = distances[s] > 0 ? 2.0f * gamma * b / ((0.001f + distances[s]) * (a * power(distances[s], b) + 1.0f)) : 0.0f;
#endif
}

// umap-learn's tau_rand_int: three combined Tausworthe generators.
struct Tausworthe {
  std::array<uint32_t, 3> s{};
  explicit Tausworthe(uint64_t seed) {
    for (auto& word : s) {  // splitmix64 for the three words; each must exceed 15
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      word = static_cast<uint32_t>(z ^ (z >> 31)) | 0x100u;
    }
  }
  uint32_t next() {
    s[0] = ((s[0] & 4294967294u) << 12) ^ (((s[0] << 13) ^ s[0]) >> 19);
    s[1] = ((s[1] & 4294967288u) << 4) ^ (((s[1] << 2) ^ s[1]) >> 25);
    s[2] = ((s[2] & 4294967280u) << 17) ^ (((s[2] << 3) ^ s[2]) >> 11);
    return s[0] ^ s[1] ^ s[2];
  }
};

}  // namespace

std::pair<double, double> find_ab_params(double spread, double min_dist) {
  std::vector<double> xs(kCurvePoints), ys(kCurvePoints);
  for (int i = 0; i < kCurvePoints; ++i) {
    xs[static_cast<size_t>(i)] = 3.0 * spread * i / (kCurvePoints - 1);
    const double x = xs[static_cast<size_t>(i)];
    ys[static_cast<size_t>(i)] = x < min_dist ? 1.0 : std::exp(-(x - min_dist) / spread);
  }
  double a = 1.0, b = 1.0, lambda = 1e-3;
  double cost = curve_residuals(xs, ys, a, b);
  for (int iteration = 0; iteration < 10000; ++iteration) {
    // Normal equations of the linearised problem: J^T J and J^T r.
    double jaa = 0, jab = 0, jbb = 0, ga = 0, gb = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
      const double x = xs[i];
      const double power = x > 0 ? std::pow(x, 2 * b) : 0.0;
      const double denominator = 1.0 + a * power;
      const double f = 1.0 / denominator;
      const double r = f - ys[i];
      const double da = -power / (denominator * denominator);
      const double db = x > 0 ? -a * power * 2.0 * std::log(x) / (denominator * denominator) : 0.0;
      jaa += da * da;
      jab += da * db;
      jbb += db * db;
      ga += da * r;
      gb += db * r;
    }
    bool improved = false;
    for (int attempt = 0; attempt < 60 && !improved; ++attempt) {
      const double haa = jaa * (1 + lambda), hbb = jbb * (1 + lambda);
      const double determinant = haa * hbb - jab * jab;
      if (determinant == 0) {
        lambda *= 10;
        continue;
      }
      const double step_a = -(hbb * ga - jab * gb) / determinant;
      const double step_b = -(haa * gb - jab * ga) / determinant;
      const double trial = curve_residuals(xs, ys, a + step_a, b + step_b);
      if (std::isfinite(trial) && trial <= cost) {
        const bool converged = std::fabs(step_a) <= 1e-13 * (std::fabs(a) + 1e-13) &&
                               std::fabs(step_b) <= 1e-13 * (std::fabs(b) + 1e-13);
        const bool flat = cost - trial <= 1e-15 * cost;
        a += step_a;
        b += step_b;
        cost = trial;
        lambda = std::max(lambda / 10, 1e-12);
        improved = true;
        if (converged || (flat && lambda <= 1e-10)) return {a, b};
      } else {
        lambda *= 10;
      }
    }
    if (!improved) break;  // no step lowers the cost: a minimum
  }
  return {a, b};
}

std::vector<double> epochs_per_sample(const std::vector<float>& weights, int64_t n_epochs) {
  std::vector<double> out(weights.size(), -1.0);
  if (weights.empty()) return out;
  const float largest = *std::max_element(weights.begin(), weights.end());
  for (size_t e = 0; e < weights.size(); ++e) {
    const double samples = static_cast<double>(n_epochs) * static_cast<double>(weights[e] / largest);
    if (samples > 0) out[e] = static_cast<double>(n_epochs) / samples;
  }
  return out;
}

namespace {

// One epoch's work on one point: its due edges' pulls and negative samples.
struct EpochStep {
  const SparseGraph& graph;
  const std::vector<double>& per_sample;
  const std::vector<double>& per_negative;
  std::vector<double>& next_sample;
  std::vector<double>& next_negative;
  std::vector<Tausworthe>& generators;
  const float* previous;  // every point at the start of the epoch
  float* embedding;
  int64_t n = 0, dim = 0;
  float a = 0, b = 0, gamma = 0, alpha = 0;
  double now = 0;
  bool negative_sampling = true;

  // Dim > 0: the dimensions, known when compiled (the point is kept in
  // registers); 0: `dim` of them, at run time.
  template <int Dim>
  void move(int64_t i) const {
    constexpr int kLocal = Dim > 0 ? Dim : 1;
    const int64_t dims = Dim > 0 ? Dim : dim;
    float local[kLocal];
    float* current = Dim > 0 ? local : embedding + i * dims;
    if (Dim > 0)
      for (int64_t d = 0; d < dims; ++d) local[d] = embedding[i * dims + d];
    std::vector<float> origin_storage(Dim > 0 ? 0 : static_cast<size_t>(dims));
    float origin_local[kLocal];
    float* origin = Dim > 0 ? origin_local : origin_storage.data();
    std::array<const float*, kNegativeBatch> targets{};
    std::array<float, kNegativeBatch> coefficients{};
    Tausworthe& random = generators[static_cast<size_t>(i)];
    for (int64_t e = graph.indptr[static_cast<size_t>(i)]; e < graph.indptr[static_cast<size_t>(i + 1)]; ++e) {
      const auto edge = static_cast<size_t>(e);
      if (next_sample[edge] > now) continue;
      // The pull of this end of (i, j) and of (j, i): the same step twice.
      const float* other = previous + graph.indices[edge] * dims;
      float distance = 0;
      for (int64_t d = 0; d < dims; ++d) distance += (current[d] - other[d]) * (current[d] - other[d]);
      if (distance > 0) {
        const float power_b = power(distance, b);
        const float coefficient = -2.0f * a * b * (power_b / distance) / (a * power_b + 1.0f);
        for (int64_t d = 0; d < dims; ++d) current[d] += 2.0f * clip(coefficient * (current[d] - other[d])) * alpha;
      }
      next_sample[edge] += per_sample[edge];

      const auto negatives =
          negative_sampling ? static_cast<int64_t>((now - next_negative[edge]) / per_negative[edge]) : int64_t{0};
      if (negative_sampling)  // also when negative, as umap-learn
        next_negative[edge] += static_cast<double>(negatives) * per_negative[edge];
      // The pushes, up to kNegativeBatch at a time from the same position
      // (independent, so their arithmetic overlaps), added together.
      for (int64_t done = 0; done < negatives; done += kNegativeBatch) {
        const int64_t batch = std::min<int64_t>(kNegativeBatch, negatives - done);
        for (int64_t d = 0; d < dims; ++d) origin[d] = current[d];
        for (int64_t s = 0; s < batch; ++s) {
          const auto k = static_cast<int64_t>((static_cast<uint64_t>(random.next()) * static_cast<uint64_t>(n)) >> 32);
          targets[static_cast<size_t>(s)] = k == i ? nullptr : previous + k * dims;
        }
        std::array<float, kNegativeBatch> distances{};
        for (int64_t s = 0; s < batch; ++s) {
          const float* negative = targets[static_cast<size_t>(s)];
          float distance = 0;
          if (negative)
            for (int64_t d = 0; d < dims; ++d) distance += (origin[d] - negative[d]) * (origin[d] - negative[d]);
          distances[static_cast<size_t>(s)] = distance;
        }
        // umap-learn: a coincident point (or gamma 0) pushes by 4 in every dimension.
        repulsions(distances.data(), a, b, gamma, coefficients.data());
        for (int64_t s = 0; s < batch; ++s) {
          const float* negative = targets[static_cast<size_t>(s)];
          if (!negative) continue;  // the point itself
          const float coefficient = coefficients[static_cast<size_t>(s)];
          for (int64_t d = 0; d < dims; ++d)
            current[d] += (coefficient > 0 ? clip(coefficient * (origin[d] - negative[d])) : 4.0f) * alpha;
        }
      }
    }
    if (Dim > 0)
      for (int64_t d = 0; d < dims; ++d) embedding[i * dims + d] = local[d];
  }
};

}  // namespace

void optimize_layout(float* embedding, int64_t dim, const SparseGraph& graph, const std::vector<double>& epochs_per_sample,
                     const LayoutOptions& options) {
  const int64_t n = graph.points;
  const size_t edges = graph.indices.size();
  const float a = static_cast<float>(options.a), b = static_cast<float>(options.b);
  const float gamma = static_cast<float>(options.repulsion_strength);
  std::vector<double> epochs_per_negative(edges), next_negative(edges), next_sample(edges);
  for (size_t e = 0; e < edges; ++e) {
    epochs_per_negative[e] = options.negative_sample_rate > 0 ? epochs_per_sample[e] / options.negative_sample_rate
                                                              : std::numeric_limits<double>::infinity();
    next_negative[e] = epochs_per_negative[e];
    next_sample[e] = epochs_per_sample[e];
  }
  std::vector<Tausworthe> generators;
  generators.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) generators.emplace_back(options.seed * 0x100000001b3ULL + static_cast<uint64_t>(i));

  std::vector<float> previous(static_cast<size_t>(n * dim));
  EpochStep step{graph, epochs_per_sample, epochs_per_negative, next_sample, next_negative, generators,
                 previous.data(), embedding, n, dim, a, b, gamma, 0.0f, 0.0, options.negative_sample_rate > 0};
  // Blocks of points handed out as threads free up (the points' work varies).
  std::atomic<int64_t> next_block{0};
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  const auto work = [&] {
    for (int64_t block = next_block++; block < blocks; block = next_block++)
      for (int64_t i = block * kBlock, end = std::min(n, i + kBlock); i < end; ++i) {
        if (dim == 2)
          step.move<2>(i);
        else
          step.move<0>(i);
      }
  };
  // Plain threads that sleep between epochs: OpenMP's spinning workers cost
  // a lot on a busy machine, at 200-500 short epochs.
  std::mutex mutex;
  std::condition_variable started, finished;
  int64_t generation = 0;
  int running = 0;
  bool stop = false;
  std::vector<std::thread> helpers;
  const int threads = std::max(1, std::min(at::get_num_threads(), static_cast<int>(blocks)));
  for (int t = 1; t < threads; ++t)
    helpers.emplace_back([&] {
      int64_t seen = 0;
      while (true) {
        {
          std::unique_lock<std::mutex> lock(mutex);
          started.wait(lock, [&] { return stop || generation != seen; });
          if (stop) return;
          seen = generation;
        }
        work();
        std::lock_guard<std::mutex> lock(mutex);
        if (--running == 0) finished.notify_one();
      }
    });

  std::optional<Progress> progress;
  if (options.progress) progress.emplace("UMAP", options.epochs, "epochs");
  for (int64_t epoch = 0; epoch < options.epochs; ++epoch) {
    step.alpha = static_cast<float>(options.learning_rate *
                                    (1.0 - static_cast<double>(epoch) / static_cast<double>(options.epochs)));
    step.now = static_cast<double>(epoch);
    std::memcpy(previous.data(), embedding, previous.size() * sizeof(float));
    next_block = 0;
    {
      std::lock_guard<std::mutex> lock(mutex);
      running = threads;
      ++generation;
    }
    started.notify_all();
    work();
    {
      std::unique_lock<std::mutex> lock(mutex);
      if (--running > 0) finished.wait(lock, [&] { return running == 0; });
    }
    if (progress) progress->advance();
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    stop = true;
  }
  started.notify_all();
  for (auto& helper : helpers) helper.join();
  if (progress) progress->finish();
}

}  // namespace imret::viz::umap_detail
