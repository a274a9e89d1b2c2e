#pragma once
// PNG encoding of 8-bit grey or RGB pixels with zlib alone (no image
// library), for serving images that exist only as arrays (IDX rows).
#include <cstdint>
#include <string>

namespace imret::data {

// A PNG file of `height` x `width` pixels, `channels` 1 (grey) or 3 (RGB)
// bytes each, row by row. Throws imret::Error for another channel count or
// an empty or oversized image.
std::string encode_png(const uint8_t* pixels, int64_t height, int64_t width, int channels);

}  // namespace imret::data
