#!/usr/bin/python3
"""A second bundled dataset: scikit-learn's handwritten digits (1,797 images of
8 x 8 pixels, 10 classes, shipped with Debian's python3-sklearn; no download)
as an IDX folder imret reads like Fashion-MNIST: each image scaled to 28 x 28
(bilinear, 0..16 -> 0..255), a stratified quarter of every class held out as
the test split (seed 0).

usage: /usr/bin/python3 scripts/data/make_digits.py OUT_FOLDER
writes OUT_FOLDER/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (1,347 train, 450 test)
"""
import gzip
import os
import struct
import sys

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits


def write_idx(path, array):
    kind = 0x08  # unsigned byte
    header = struct.pack(">HBB", 0, kind, array.ndim) + b"".join(struct.pack(">I", d) for d in array.shape)
    tmp = path + ".tmp"
    with gzip.open(tmp, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())
    os.replace(tmp, path)


def main(out):
    digits = load_digits()
    images = np.stack([np.asarray(Image.fromarray((image * 255 / 16).astype(np.uint8)).resize((28, 28), Image.BILINEAR))
                       for image in digits.images])
    labels = digits.target.astype(np.uint8)
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), bool)
    for c in range(10):
        members = np.flatnonzero(labels == c)
        test[rng.choice(members, size=round(len(members) / 4), replace=False)] = True
    os.makedirs(out, exist_ok=True)
    write_idx(os.path.join(out, "train-images-idx3-ubyte.gz"), images[~test])
    write_idx(os.path.join(out, "train-labels-idx1-ubyte.gz"), labels[~test])
    write_idx(os.path.join(out, "t10k-images-idx3-ubyte.gz"), images[test])
    write_idx(os.path.join(out, "t10k-labels-idx1-ubyte.gz"), labels[test])
    print(f"wrote {out}: {int((~test).sum())} train and {int(test.sum())} test images of 28 x 28, 10 classes")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
