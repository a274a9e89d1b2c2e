#include "imret/detect/coco_rle.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "imret/core/error.hpp"

namespace imret::detect {

namespace {

constexpr uint64_t kMaxPixels = std::numeric_limits<uint32_t>::max();

std::string shape_text(int64_t height, int64_t width) { return std::to_string(height) + " x " + std::to_string(width); }

void check_size(int64_t height, int64_t width) {
  if (height < 0 || width < 0) throw Error("COCO RLE: negative mask size " + shape_text(height, width));
  if (height > 0 && static_cast<uint64_t>(width) > kMaxPixels / static_cast<uint64_t>(height)) {
    throw Error("COCO RLE: a " + shape_text(height, width) + " mask has more pixels than 32-bit counts can hold");
  }
}

// Column-major 0/1 bytes of a row-major height x width mask: pixel (y, x)
// goes to out[x * height + y]. Blocks of columns keep the reads and writes
// near each other in the cache.
template <typename T, typename IsSet>
void to_column_major(const T* rows, int64_t height, int64_t width, IsSet is_set, uint8_t* out) {
  constexpr int64_t kBlock = 32;
  for (int64_t x0 = 0; x0 < width; x0 += kBlock) {
    const int64_t x1 = std::min(width, x0 + kBlock);
    for (int64_t y = 0; y < height; ++y) {
      const T* row = rows + y * width;
      for (int64_t x = x0; x < x1; ++x) out[x * height + y] = is_set(row[x]) ? 1 : 0;
    }
  }
}

// Runs of 0/1 bytes, starting with a run of 0s; eight bytes at a time
// through long runs.
std::vector<uint32_t> runs_of(const uint8_t* bits, uint64_t n) {
  std::vector<uint32_t> counts;
  if (n == 0) return {0};
  uint64_t i = 0, start = 0;
  uint8_t value = 0;
  while (i < n) {
    const uint64_t pattern = value ? 0x0101010101010101ull : 0;
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, bits + i, 8);
      if (word != pattern) break;
      i += 8;
    }
    while (i < n && bits[i] == value) ++i;
    counts.push_back(static_cast<uint32_t>(i - start));
    start = i;
    value ^= 1;
  }
  return counts;
}

template <typename T, typename IsSet>
Rle encode_rows(const T* rows, int64_t height, int64_t width, IsSet is_set) {
  check_size(height, width);
  const uint64_t n = static_cast<uint64_t>(height) * static_cast<uint64_t>(width);
  std::vector<uint8_t> bits(n);
  to_column_major(rows, height, width, is_set, bits.data());
  return Rle{height, width, runs_of(bits.data(), n)};
}

// `tensor` as a contiguous CPU H x W tensor; Error naming `what` otherwise.
torch::Tensor plain_2d(const torch::Tensor& tensor, const char* what) {
  if (!tensor.defined()) throw Error(std::string("COCO RLE: the ") + what + " is an undefined tensor");
  if (tensor.dim() != 2) {
    throw Error(std::string("COCO RLE: the ") + what + " must be H x W, not " + std::to_string(tensor.dim()) +
                "-dimensional");
  }
  check_size(tensor.size(0), tensor.size(1));  // before a copy of a huge expanded view
  return tensor.cpu().contiguous();
}

}  // namespace

Rle encode_mask(const uint8_t* mask, int64_t height, int64_t width) {
  return encode_rows(mask, height, width, [](uint8_t v) { return v != 0; });
}

Rle encode_mask(const torch::Tensor& mask) {
  torch::Tensor m = plain_2d(mask, "mask");
  if (m.is_floating_point() || m.is_complex()) {
    throw Error("COCO RLE: the mask must be bool or integer, not " + std::string(c10::toString(m.scalar_type())) +
                " (for probabilities: encode_probabilities)");
  }
  const int64_t height = m.size(0), width = m.size(1);
  if (m.scalar_type() == torch::kBool || m.scalar_type() == torch::kUInt8 || m.scalar_type() == torch::kInt8) {
    return encode_rows(static_cast<const uint8_t*>(m.data_ptr()), height, width, [](uint8_t v) { return v != 0; });
  }
  m = m.ne(0).to(torch::kUInt8).contiguous();
  return encode_rows(m.data_ptr<uint8_t>(), height, width, [](uint8_t v) { return v != 0; });
}

Rle encode_probabilities(const torch::Tensor& probabilities, float threshold) {
  torch::Tensor p = plain_2d(probabilities, "probability map");
  if (!p.is_floating_point()) {
    throw Error("COCO RLE: the probability map must be floating-point, not " +
                std::string(c10::toString(p.scalar_type())));
  }
  const int64_t height = p.size(0), width = p.size(1);
  if (p.scalar_type() == torch::kDouble) {
    const double t = threshold;
    return encode_rows(p.data_ptr<double>(), height, width, [t](double v) { return v > t; });
  }
  if (p.scalar_type() != torch::kFloat) p = p.to(torch::kFloat).contiguous();
  return encode_rows(p.data_ptr<float>(), height, width, [threshold](float v) { return v > threshold; });
}

std::string rle_to_string(const Rle& rle) {
  std::string text;
  text.reserve(rle.counts.size() * 2);
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    int64_t x = rle.counts[i];
    if (i > 2) x -= static_cast<int64_t>(rle.counts[i - 2]);
    bool more = true;
    while (more) {
      int c = static_cast<int>(x & 0x1f);
      x >>= 5;  // arithmetic: negative numbers stay negative
      more = (c & 0x10) ? x != -1 : x != 0;
      if (more) c |= 0x20;
      text += static_cast<char>('0' + c);
    }
  }
  return text;
}

Rle rle_from_string(std::string_view text, int64_t height, int64_t width) {
  check_size(height, width);
  // A count is below 2^32 and a difference of two counts above -2^32: 34
  // bits with the sign, so at most 7 groups of 5 bits.
  constexpr int kMaxGroups = 7;
  Rle rle{height, width, {}};
  rle.counts.reserve(text.size());
  size_t p = 0;
  while (p < text.size()) {
    const size_t start = p;
    uint64_t bits = 0;
    int k = 0;
    bool more = true;
    while (more) {
      if (p == text.size()) {
        throw Error("COCO RLE string ends inside a number (at character " + std::to_string(start + 1) + ")");
      }
      const int c = static_cast<unsigned char>(text[p]) - '0';
      if (c < 0 || c > 63) {
        const unsigned char bad = static_cast<unsigned char>(text[p]);
        const std::string shown = bad >= 0x20 && bad < 0x7f ? "'" + std::string(1, static_cast<char>(bad)) + "'"
                                                            : "byte " + std::to_string(bad);
        throw Error("COCO RLE string: " + shown + " at character " + std::to_string(p + 1) +
                    " is not a count character ('0' to 'o')");
      }
      if (k == kMaxGroups) {
        throw Error("COCO RLE string: the number at character " + std::to_string(start + 1) + " is too long");
      }
      bits |= static_cast<uint64_t>(c & 0x1f) << (5 * k);
      more = (c & 0x20) != 0;
      ++p;
      ++k;
      if (!more && (c & 0x10)) bits |= ~uint64_t{0} << (5 * k);  // negative: extend the sign
    }
    int64_t x = static_cast<int64_t>(bits);
    const size_t m = rle.counts.size();
    if (m > 2) x += rle.counts[m - 2];
    if (x < 0 || static_cast<uint64_t>(x) > kMaxPixels) {
      throw Error("COCO RLE string: count " + std::to_string(m + 1) + " (at character " + std::to_string(start + 1) +
                  ") is " + std::to_string(x) + ", out of range");
    }
    rle.counts.push_back(static_cast<uint32_t>(x));
  }
  check_rle(rle);
  return rle;
}

void check_rle(const Rle& rle) {
  check_size(rle.height, rle.width);
  uint64_t total = 0;
  for (const uint32_t c : rle.counts) total += c;
  const uint64_t pixels = static_cast<uint64_t>(rle.height) * static_cast<uint64_t>(rle.width);
  if (total != pixels) {
    throw Error("COCO RLE: the counts add up to " + std::to_string(total) + " pixels, but a " +
                shape_text(rle.height, rle.width) + " mask has " + std::to_string(pixels));
  }
}

torch::Tensor decode_mask(const Rle& rle) {
  check_rle(rle);
  const int64_t height = rle.height, width = rle.width;
  std::vector<uint8_t> columns(static_cast<size_t>(height * width));
  uint8_t* out = columns.data();
  uint8_t value = 0;
  for (const uint32_t c : rle.counts) {
    if (c > 0) std::memset(out, value, c);  // an empty mask's data() may be null
    out += c;
    value ^= 1;
  }
  torch::Tensor mask = torch::empty({height, width}, torch::kUInt8);
  uint8_t* rows = mask.data_ptr<uint8_t>();
  constexpr int64_t kBlock = 32;
  for (int64_t x0 = 0; x0 < width; x0 += kBlock) {
    const int64_t x1 = std::min(width, x0 + kBlock);
    for (int64_t y = 0; y < height; ++y) {
      uint8_t* row = rows + y * width;
      for (int64_t x = x0; x < x1; ++x) row[x] = columns[static_cast<size_t>(x * height + y)];
    }
  }
  return mask;
}

int64_t rle_area(const Rle& rle) {
  int64_t area = 0;
  for (size_t i = 1; i < rle.counts.size(); i += 2) area += rle.counts[i];
  return area;
}

std::array<int64_t, 4> rle_bbox(const Rle& rle) {
  const int64_t h = rle.height;
  int64_t xs = std::numeric_limits<int64_t>::max(), ys = xs, xe = -1, ye = -1;
  int64_t position = 0;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    const int64_t c = rle.counts[i];
    if (i % 2 == 1 && c > 0 && h > 0) {  // a run of set pixels: [position, position + c)
      const int64_t first = position, last = position + c - 1;
      const int64_t x_first = first / h, x_last = last / h;
      xs = std::min(xs, x_first);
      xe = std::max(xe, x_last);
      if (x_first != x_last) {  // through the bottom of one column and the top of the next
        ys = 0;
        ye = h - 1;
      } else {
        ys = std::min(ys, first % h);
        ye = std::max(ye, last % h);
      }
    }
    position += c;
  }
  if (xe < 0) return {0, 0, 0, 0};
  return {xs, ys, xe - xs + 1, ye - ys + 1};
}

}  // namespace imret::detect
