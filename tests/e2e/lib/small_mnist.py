"""Test fixture: the first TRAIN and TEST images of the bundled Fashion-MNIST
as a small IDX folder (uncompressed), for end-to-end tests that must be quick.

usage: small_mnist.py OUT_DIR TRAIN TEST
"""
import gzip
import struct
import sys

source = "/usr/share/datasets/fashion-mnist"
out, counts = sys.argv[1], {"train": int(sys.argv[2]), "t10k": int(sys.argv[3])}
for prefix, count in counts.items():
    for kind, header in (("images-idx3-ubyte", 16), ("labels-idx1-ubyte", 8)):
        data = gzip.open(f"{source}/{prefix}-{kind}.gz").read()
        item = 28 * 28 if header == 16 else 1
        head = bytearray(data[:header])
        head[4:8] = struct.pack(">I", count)
        with open(f"{out}/{prefix}-{kind}", "wb") as f:
            f.write(bytes(head) + data[header:header + count * item])
