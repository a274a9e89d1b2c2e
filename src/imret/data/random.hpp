#pragma once
// Portable random helpers. The standard distributions may give different
// numbers on different standard libraries; these give the same numbers
// everywhere for a given std::mt19937_64 state, so splits, shuffles and
// augmentations are reproducible across platforms.
#include <cstdint>
#include <random>
#include <vector>

namespace imret::data {

// SplitMix64 finaliser: a well-mixed 64-bit function of x.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A seed derived from several values; different inputs give unrelated seeds.
inline uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0) { return mix64(mix64(mix64(seed) ^ a) ^ b); }

// Uniform integer in [0, n), n > 0, without modulo bias.
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x = rng();
  while (x >= limit) x = rng();
  return x % n;
}

// Uniform real in [lo, hi).
inline double uniform_real(std::mt19937_64& rng, double lo, double hi) {
  const double unit = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return lo + (hi - lo) * unit;
}

// Fisher-Yates shuffle.
template <typename T>
void shuffle_portable(std::vector<T>& values, std::mt19937_64& rng) {
  for (size_t i = values.size(); i > 1; --i) {
    const size_t j = static_cast<size_t>(uniform_below(rng, i));
    std::swap(values[i - 1], values[j]);
  }
}

}  // namespace imret::data
