// JPEG decoding with libjpeg(-turbo); only built when CMake finds it.
//
// libjpeg reports through callbacks: error_exit must not return (we longjmp
// back to the step that called libjpeg), emit_message(-1) is a warning after
// which libjpeg carries on with made-up data (a truncated file gets a fake
// end-of-image marker; corrupt entropy data gets zeros): we make every
// warning an error. Nothing is printed: output_message is never called.
//
// setjmp/longjmp skip C++ destructors, so each step that can longjmp is a
// small function whose frame holds no C++ object; buffers are made outside.
#include <algorithm>
#include <csetjmp>
#include <cstddef>
#include <cstdio>  // jpeglib.h needs size_t and FILE declared first
#include <string>

#include <jpeglib.h>

#include "imret/data/image_decode.hpp"

namespace imret::data {

namespace {

struct ErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg hands us cinfo->err, a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// msg_level -1 is a warning (data damaged, decoding goes on); 0 and up are
// trace messages, which we ignore.
void on_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level < 0) on_error(cinfo);
}

void no_output(j_common_ptr) {}

// One decompression: the libjpeg object and its error manager.
struct Decompressor {
  jpeg_decompress_struct cinfo{};
  ErrorManager err{};
  bool created = false;

  Decompressor() {
    cinfo.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.emit_message = on_message;
    err.pub.output_message = no_output;
  }
  ~Decompressor() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;
};

// Reads the headers (up to the first scan) of the JPEG in memory; keeps the
// APP1 markers, where EXIF lives. False with d.err.message on error.
bool read_header(Decompressor& d, const uint8_t* data, size_t size) {
  if (setjmp(d.err.jump)) return false;
  jpeg_create_decompress(&d.cinfo);
  d.created = true;
  jpeg_mem_src(&d.cinfo, data, static_cast<unsigned long>(size));
  jpeg_save_markers(&d.cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&d.cinfo, TRUE);
  return true;
}

// Decodes all rows, one at a time into `row` (output_components wide), each
// handed to put_row(row index, row); then reads on to the end-of-image marker,
// so that a file cut after the last scan's data is noticed too.
template <typename PutRow>
bool read_rows(Decompressor& d, uint8_t* row, size_t row_size, PutRow put_row) {
  if (setjmp(d.err.jump)) return false;
  jpeg_start_decompress(&d.cinfo);
  if (size_t{d.cinfo.output_width} * static_cast<size_t>(d.cinfo.output_components) != row_size) {
    std::snprintf(d.err.message, sizeof d.err.message, "unexpected output of %d components", d.cinfo.output_components);
    return false;
  }
  while (d.cinfo.output_scanline < d.cinfo.output_height) {
    const JDIMENSION y = d.cinfo.output_scanline;
    JSAMPROW rows[1] = {row};
    jpeg_read_scanlines(&d.cinfo, rows, 1);
    put_row(y, row);
  }
  jpeg_finish_decompress(&d.cinfo);
  return true;
}

// OpenCV's icvCvt_CMYK2BGR_8u_C4C3R (Adobe's inverted CMYK, as libjpeg gives it), into RGB.
void cmyk_to_rgb(const uint8_t* cmyk, uint8_t* rgb, uint32_t width) {
  for (uint32_t x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const int k = cmyk[3];
    rgb[0] = static_cast<uint8_t>(k - ((255 - cmyk[0]) * k >> 8));
    rgb[1] = static_cast<uint8_t>(k - ((255 - cmyk[1]) * k >> 8));
    rgb[2] = static_cast<uint8_t>(k - ((255 - cmyk[2]) * k >> 8));
  }
}

// OpenCV reads the EXIF orientation from the first APP1 marker, past the
// 6 bytes of "Exif\0\0".
int exif_orientation(const jpeg_decompress_struct& cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
    if (m->marker != JPEG_APP0 + 1) continue;
    return m->data_length > 6 ? read_exif_orientation(m->data + 6, m->data_length - 6) : 0;
  }
  return 0;
}

[[noreturn]] void fail(const Decompressor& d) {
  throw ImageDecodeError(std::string("corrupt JPEG: ") + d.err.message);
}

}  // namespace

RgbImage decode_jpeg_rgb(const uint8_t* data, size_t size, const ImageLimits& limits) {
  Decompressor d;
  if (!read_header(d, data, size)) fail(d);
  RgbImage image;
  image.width = d.cinfo.image_width;
  image.height = d.cinfo.image_height;
  // Before jpeg_start_decompress: for a progressive JPEG it allocates a
  // buffer for the whole image.
  const std::string violation = image_limit_violation(image.width, image.height, limits);
  if (!violation.empty()) throw ImageDecodeError(violation);
  image.orientation = exif_orientation(d.cinfo);

  // What OpenCV asks for with IMREAD_COLOR: CMYK as is (converted by us as
  // OpenCV converts it), anything else as RGB (grey replicated by libjpeg).
  const bool cmyk = d.cinfo.num_components == 4;
  d.cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  image.pixels.resize(size_t{image.width} * image.height * 3);
  std::vector<uint8_t> row(size_t{image.width} * (cmyk ? 4 : 3));
  uint8_t* out = image.pixels.data();
  const size_t stride = size_t{image.width} * 3;
  const bool ok = read_rows(d, row.data(), row.size(), [&](JDIMENSION y, const uint8_t* decoded) {
    uint8_t* dst = out + y * stride;
    if (cmyk) {
      cmyk_to_rgb(decoded, dst, image.width);
    } else {
      std::copy(decoded, decoded + stride, dst);
    }
  });
  if (!ok) fail(d);
  return image;
}

}  // namespace imret::data
