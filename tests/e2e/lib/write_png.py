"""Writes small RGB PNG files without any imaging library (tests only).
usage: write_png.py OUT.png R G B [SIZE]"""
import struct
import sys
import zlib


def write_png(path, rgb, size=32):
    row = b"\0" + bytes(rgb) * size
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    data = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 32
    write_png(sys.argv[1], [int(v) for v in sys.argv[2:5]], size)
