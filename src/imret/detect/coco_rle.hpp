#pragma once
// COCO run-length encoding of binary masks, as pycocotools' mask.encode /
// mask.decode / mask.area / mask.toBbox and the compressed string form of the
// counts that COCO results files carry ("segmentation": {"size": [h, w],
// "counts": "..."}).
//
// An RLE lists the lengths of alternating runs of 0s and 1s over the mask's
// pixels in column-major order (down the first column, then the next), always
// starting with a run of 0s (of length 0 when the first pixel is set). A mask
// without pixels (h * w = 0) is the single count 0.
//
// The string form (pycocotools' rleToString): each count, from the fourth on
// as the difference to the count two before it, is written as a signed number
// in little-endian groups of 5 bits, one character per group: '0' + the group,
// plus 32 when more groups follow; the last group's bit 16 is the sign.
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace imret::detect {

struct Rle {
  int64_t height = 0, width = 0;
  std::vector<uint32_t> counts;  // run lengths, column-major, the first a run of 0s
};

// The RLE of an H x W mask, bool or any integer type: nonzero pixels are set.
// Any device and layout (copied to contiguous CPU memory when needed). Error
// for another shape or type, or when H * W does not fit the 32-bit counts.
Rle encode_mask(const torch::Tensor& mask);
// The RLE of an H x W floating-point probability map: pixels > threshold are
// set (torchvision's references binarise masks at 0.5).
Rle encode_probabilities(const torch::Tensor& probabilities, float threshold = 0.5f);
// The RLE of height x width bytes, row by row (row-major); nonzero = set.
Rle encode_mask(const uint8_t* mask, int64_t height, int64_t width);

// The compressed string of the counts (characters '0' to 'o'; note that '\\'
// is among them, which JSON must escape).
std::string rle_to_string(const Rle& rle);
// The counts of a compressed string, for a height x width mask. Error (one
// line, without a file name) for a character outside '0'..'o', a string that
// ends inside a number, a number too long for 32 bits, a count below 0 or above
// 2^32 - 1, or counts that do not add up to height * width.
Rle rle_from_string(std::string_view text, int64_t height, int64_t width);

// Checks that the counts add up to height * width; Error saying what is wrong.
void check_rle(const Rle& rle);
// The H x W uint8 mask (0 or 1) of an RLE; Error when check_rle fails.
torch::Tensor decode_mask(const Rle& rle);
// The number of set pixels.
int64_t rle_area(const Rle& rle);
// The tightest box around the set pixels as COCO's [x, y, width, height] in
// whole pixels (pycocotools' toBbox); [0, 0, 0, 0] for an empty mask.
std::array<int64_t, 4> rle_bbox(const Rle& rle);

}  // namespace imret::detect
