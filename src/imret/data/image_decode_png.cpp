// PNG decoding with libpng; only built when CMake finds it.
//
// libpng reports through callbacks: the error callback must not return (we
// longjmp back to the step that called libpng); warnings may return. What
// is an error here:
//   - every libpng error (a cut-short file, a bad CRC on a critical chunk,
//     bad compressed data, a missing IEND...);
//   - every warning about the image data (e.g. "IDAT: Too much image data")
//     and every "CRC error" (damaged bytes, even in an ancillary chunk).
// What is accepted quietly: other warnings about an ancillary chunk
// ("iCCP: known incorrect sRGB profile", a malformed tEXt...): they concern
// metadata that decoding ignores anyway, and are common in real photos.
// Nothing is printed.
//
// setjmp/longjmp skip C++ destructors, so each step that can longjmp is a
// small function whose frame holds no C++ object; buffers are made outside.
#include <png.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>

#include "imret/data/image_decode.hpp"

namespace imret::data {

namespace {

struct Reader {
  png_structp png = nullptr;
  png_infop info = nullptr;
  png_infop end_info = nullptr;
  const uint8_t* data = nullptr;
  size_t size = 0;
  size_t pos = 0;
  char message[256] = {};

  Reader(const uint8_t* bytes, size_t count) : data(bytes), size(count) {}
  ~Reader() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, end_info ? &end_info : nullptr);
  }
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
};

[[noreturn]] void fail_with(png_structp png, const char* text) {
  auto* reader = static_cast<Reader*>(png_get_error_ptr(png));
  std::snprintf(reader->message, sizeof reader->message, "%s", text);
  png_longjmp(png, 1);
}

[[noreturn]] void on_error(png_structp png, png_const_charp text) { fail_with(png, text); }

// libpng writes a chunk's warnings as "<chunk name>: <text>"; a chunk is
// ancillary when its name's first letter is lower case.
bool is_ancillary_chunk_warning(const char* text) {
  if (std::strlen(text) < 6 || text[4] != ':' || text[5] != ' ') return false;
  for (int k = 0; k < 4; ++k)
    if (!std::isalpha(static_cast<unsigned char>(text[k]))) return false;
  return std::islower(static_cast<unsigned char>(text[0])) != 0;
}

void on_warning(png_structp png, png_const_charp text) {
  if (is_ancillary_chunk_warning(text) && !std::strstr(text, "CRC error")) return;
  fail_with(png, text);
}

void read_from_memory(png_structp png, png_bytep out, png_size_t count) {
  auto* reader = static_cast<Reader*>(png_get_io_ptr(png));
  if (count > reader->size - reader->pos) png_error(png, "the file ends early (truncated)");
  std::memcpy(out, reader->data + reader->pos, count);
  reader->pos += count;
}

// Creates libpng's structures and reads up to the image data (IHDR, PLTE,
// tRNS...). False with r.message on error.
bool read_info(Reader& r) {
  r.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r, on_error, on_warning);
  if (!r.png) {
    std::snprintf(r.message, sizeof r.message, "cannot start libpng");
    return false;
  }
  if (setjmp(png_jmpbuf(r.png))) return false;
  r.info = png_create_info_struct(r.png);
  r.end_info = png_create_info_struct(r.png);
  if (!r.info || !r.end_info) png_error(r.png, "out of memory");
  png_set_read_fn(r.png, &r, read_from_memory);
  png_read_info(r.png, r.info);
  return true;
}

// The conversions OpenCV 4.6 asks for with IMREAD_COLOR (PngDecoder::readData,
// 8-bit 3-channel output), but RGB where it asks for BGR (png_set_bgr).
bool set_rgb8_output(Reader& r, int bit_depth, int color_type) {
  if (setjmp(png_jmpbuf(r.png))) return false;
  if (bit_depth == 16) png_set_strip_16(r.png);
  png_set_strip_alpha(r.png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r.png);
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(r.png);
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(r.png);
  png_set_interlace_handling(r.png);
  png_read_update_info(r.png, r.info);
  return true;
}

// Reads the pixels into `rows` and the chunks after them up to IEND.
bool read_image(Reader& r, png_bytepp rows) {
  if (setjmp(png_jmpbuf(r.png))) return false;
  png_read_image(r.png, rows);
  png_read_end(r.png, r.end_info);
  return true;
}

// The EXIF orientation of an eXIf chunk, before or after the image data
// (OpenCV applies it to PNGs too); 0 without one.
int exif_orientation(const Reader& r) {
  for (png_infop info : {r.info, r.end_info}) {
    png_uint_32 size = 0;
    png_bytep exif = nullptr;
    if (png_get_valid(r.png, info, PNG_INFO_eXIf) && png_get_eXIf_1(r.png, info, &size, &exif) && exif)
      return read_exif_orientation(exif, size);
  }
  return 0;
}

[[noreturn]] void fail(const Reader& r) { throw ImageDecodeError(std::string("corrupt PNG: ") + r.message); }

}  // namespace

RgbImage decode_png_rgb(const uint8_t* data, size_t size, const ImageLimits& limits) {
  Reader r(data, size);
  if (!read_info(r)) fail(r);
  RgbImage image;
  image.width = png_get_image_width(r.png, r.info);
  image.height = png_get_image_height(r.png, r.info);
  const std::string violation = image_limit_violation(image.width, image.height, limits);
  if (!violation.empty()) throw ImageDecodeError(violation);
  if (!set_rgb8_output(r, png_get_bit_depth(r.png, r.info), png_get_color_type(r.png, r.info))) fail(r);
  const size_t stride = size_t{image.width} * 3;
  if (png_get_rowbytes(r.png, r.info) != stride) throw ImageDecodeError("corrupt PNG: unexpected row size");

  image.pixels.resize(stride * image.height);
  std::vector<png_bytep> rows(image.height);
  for (uint32_t y = 0; y < image.height; ++y) rows[y] = image.pixels.data() + y * stride;
  if (!read_image(r, rows.data())) fail(r);
  image.orientation = exif_orientation(r);
  return image;
}

}  // namespace imret::data
