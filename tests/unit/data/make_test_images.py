"""Writes the images of image_decode_test_cv.cpp into OUT_DIR, and OUT_DIR/pil.json:
{file: {"format": PIL's format, "size": [w, h]}} for every file PIL opens.
usage: make_test_images.py OUT_DIR [--bomb]
Most files come from PIL; the PNG variants PIL cannot write (interlaced,
16-bit colour, 2/4-bit grey, tRNS, odd chunks), a big-endian TIFF, plain
PNM and BMP variants are written by hand. --bomb adds bomb.png, a
30000 x 30000 grey PNG of zeros (about 875 KB)."""
import io
import json
import os
import random
import struct
import sys
import zlib

from PIL import Image

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = random.Random(7)


def path(name):
    return os.path.join(out, name)


def noise(mode, size):
    """A smooth gradient plus noise: JPEG blocks and PNG filters get real work."""
    w, h = size
    bands = {"L": 1, "RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
    data = bytearray()
    for y in range(h):
        for x in range(w):
            for b in range(bands):
                data.append((x * 7 + y * 3 + b * 50 + rng.randrange(40)) % 256)
    return Image.frombytes(mode, size, bytes(data))


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png(name, w, h, color_type, depth, pixel, interlace=False, extra=b"", before_idat=b""):
    """pixel(x, y) -> tuple of samples; rows packed at `depth` bits, filter 0."""
    def row(xs, y):
        bits, acc, out_bytes = 0, 0, bytearray([0])
        for x in xs:
            for s in pixel(x, y):
                if depth == 16:
                    out_bytes += struct.pack(">H", s)
                elif depth == 8:
                    out_bytes.append(s)
                else:
                    acc, bits = (acc << depth) | s, bits + depth
                    if bits == 8:
                        out_bytes.append(acc)
                        acc, bits = 0, 0
        if bits:
            out_bytes.append(acc << (8 - bits))
        return bytes(out_bytes)

    raw = b""
    if interlace:
        for x0, y0, dx, dy in ADAM7:
            xs = list(range(x0, w, dx))
            if xs:
                raw += b"".join(row(xs, y) for y in range(y0, h, dy))
    else:
        raw = b"".join(row(range(w), y) for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 1 if interlace else 0)
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + before_idat + chunk(b"IDAT", zlib.compress(raw)) + extra +
            chunk(b"IEND", b""))
    open(path(name), "wb").write(data)


def variants():
    rgb = noise("RGB", (37, 23))
    # JPEG: baseline 4:2:0 and 4:4:4, progressive, grey, CMYK (Adobe), EXIF orientations.
    rgb.save(path("rgb.jpg"), quality=90)
    rgb.save(path("rgb444.jpg"), quality=95, subsampling=0)
    rgb.save(path("progressive.jpg"), quality=85, progressive=True)
    noise("L", (30, 20)).save(path("grey.jpg"), quality=90)
    noise("CMYK", (21, 19)).save(path("cmyk.jpg"), quality=90)
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        rgb.save(path(f"orientation{orientation}.jpg"), quality=90, exif=exif.tobytes())
    # PNG written by PIL.
    rgb.save(path("rgb.png"))
    noise("RGBA", (19, 17)).save(path("rgba.png"))
    noise("L", (18, 13)).save(path("grey.png"))
    noise("L", (18, 13)).convert("LA").save(path("grey_alpha.png"))
    rgb.convert("P", palette=Image.ADAPTIVE, colors=50).save(path("palette.png"))
    rgb.convert("P", palette=Image.ADAPTIVE, colors=12).save(path("palette4.png"), bits=4)
    rgb.convert("P", palette=Image.ADAPTIVE, colors=50).save(path("palette_trns.png"), transparency=3)
    noise("L", (29, 11)).convert("1").save(path("bitmap.png"))
    Image.frombytes("I;16", (15, 9), bytes(rng.randrange(256) for _ in range(15 * 9 * 2))).save(path("grey16.png"))
    exif = Image.Exif()
    exif[0x0112] = 6
    rgb.save(path("orientation6.png"), exif=exif.tobytes())
    # PNG written by hand.
    px = lambda bands, top: (lambda x, y: tuple((x * 37 + y * 101 + b * 59) * 13 % (top + 1) for b in range(bands)))
    png("rgb16.png", 13, 9, 2, 16, px(3, 65535))
    png("rgba16.png", 13, 9, 6, 16, px(4, 65535))
    png("grey2.png", 11, 7, 0, 2, px(1, 3))
    png("grey4.png", 11, 7, 0, 4, px(1, 15))
    png("interlaced_rgb.png", 21, 17, 2, 8, px(3, 255), interlace=True)
    png("interlaced_grey1.png", 21, 17, 0, 1, px(1, 1), interlace=True)
    png("interlaced_rgba16.png", 9, 10, 6, 16, px(4, 65535), interlace=True)
    png("grey_trns.png", 10, 6, 0, 8, px(1, 255), before_idat=chunk(b"tRNS", struct.pack(">H", 13)))
    png("rgb_trns.png", 10, 6, 2, 8, px(3, 255), before_idat=chunk(b"tRNS", struct.pack(">HHH", 1, 2, 3)))
    # An ancillary chunk libpng warns about (a zero-length tEXt keyword): metadata only, accepted.
    png("bad_text_chunk.png", 10, 6, 2, 8, px(3, 255), extra=chunk(b"tEXt", b"\0value"))
    # The same with a wrong CRC: damaged bytes, rejected.
    good = chunk(b"tEXt", b"Comment\0value")
    png("text_crc_error.png", 10, 6, 2, 8, px(3, 255), extra=good[:-4] + bytes(b ^ 0xFF for b in good[-4:]))
    png("tall.png", 1, 50000, 0, 8, lambda x, y: (y % 256,))
    # Other formats (decoded by OpenCV; sizes from the header).
    rgb.save(path("rgb.bmp"))
    noise("L", (14, 9)).save(path("grey.bmp"))
    noise("RGBA", (14, 9)).save(path("rgba.bmp"))
    top_down = bytearray(open(path("rgb.bmp"), "rb").read())
    top_down[22:26] = struct.pack("<i", -23)  # negative height: rows stored top-down
    open(path("top_down.bmp"), "wb").write(top_down)
    os2 = struct.pack("<IHHHH", 12, 5, 3, 1, 24) + bytes(range(3 * 5 * 3)) + b"\0" * 3  # 5x3, rows padded to 4
    open(path("os2.bmp"), "wb").write(b"BM" + struct.pack("<IHHI", 14 + len(os2), 0, 0, 26) + os2)
    rgb.save(path("rgb.gif"))
    rgb.save(path("lossy.webp"), quality=80)
    rgb.save(path("lossless.webp"), lossless=True)
    noise("RGBA", (19, 17)).save(path("alpha.webp"), quality=80)
    rgb.save(path("rgb.tif"))
    rgb.save(path("lzw.tif"), compression="tiff_lzw")
    write_big_endian_tiff(path("big_endian.tif"), 6, 4)
    rgb.save(path("rgb.ppm"))
    noise("L", (12, 7)).save(path("grey.pgm"))
    noise("L", (12, 7)).convert("1").save(path("bitmap.pbm"))
    open(path("plain.ppm"), "w").write("P3\n# a comment\n3 2\n255\n" + "1 2 3 " * 6 + "\n")
    open(path("plain.pgm"), "w").write("P2 4 3 65535\n" + "1000 " * 12 + "\n")


def write_big_endian_tiff(file, w, h):
    """One strip of 8-bit RGB, "MM" byte order, sizes as LONG."""
    pixels = bytes((x * 40 + y * 60 + b * 20) % 256 for y in range(h) for x in range(w) for b in range(3))
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 2),
               (273, 4, 1, 8), (277, 3, 1, 3), (278, 4, 1, h), (279, 4, 1, len(pixels))]
    ifd_offset = 8 + len(pixels)
    ifd = struct.pack(">H", len(entries))
    for tag, kind, count, value in entries:
        field = struct.pack(">HH", value, 0) if kind == 3 else struct.pack(">I", value)
        ifd += struct.pack(">HHI", tag, kind, count) + field
    ifd += struct.pack(">I", 0)
    open(file, "wb").write(b"MM\0*" + struct.pack(">I", ifd_offset) + pixels + ifd)


def bomb():
    """30000 x 30000 8-bit grey, all zero: 900 MB of pixels in about 875 KB."""
    size = 30000
    z = zlib.compressobj(9)
    row = b"\0" * (size + 1)
    idat = b"".join(z.compress(row) for _ in range(size)) + z.flush()
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    open(path("bomb.png"), "wb").write(data)


variants()
if "--bomb" in sys.argv:
    bomb()
Image.MAX_IMAGE_PIXELS = None  # sizes only: PIL opens the bomb without decoding it
pil = {}
for name in sorted(os.listdir(out)):
    try:
        with Image.open(path(name)) as im:
            pil[name] = {"format": im.format, "size": list(im.size)}
    except Exception:  # not an image PIL opens: no reference size
        pass
json.dump(pil, open(path("pil.json"), "w"), indent=1)
