#!/usr/bin/python3
"""scripts/data/make_digits.py: scikit-learn's digits as an IDX folder that imret
reads, every image and label accounted for, a stratified quarter held out."""
import gzip
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "data", "make_digits.py")


def read_idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data[4 + 4 * dims:], np.uint8).reshape(shape)


class DigitsData(unittest.TestCase):
    def test_folder(self):
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, SCRIPT, out], check=True, capture_output=True)
            train = read_idx(f"{out}/train-images-idx3-ubyte.gz"), read_idx(f"{out}/train-labels-idx1-ubyte.gz")
            test = read_idx(f"{out}/t10k-images-idx3-ubyte.gz"), read_idx(f"{out}/t10k-labels-idx1-ubyte.gz")
            digits = load_digits()
            self.assertEqual(train[0].shape[1:], (28, 28))
            self.assertEqual(len(train[0]) + len(test[0]), len(digits.target))
            for c in range(10):
                total = int((digits.target == c).sum())
                self.assertEqual(int((test[1] == c).sum()), round(total / 4), c)
                self.assertEqual(int((train[1] == c).sum()) + int((test[1] == c).sum()), total)
            # Each image is its original scaled up: scaled back down, it is near the original of its label.
            originals = digits.images.reshape(len(digits.images), -1) * 255 / 16
            for image, label in zip(test[0][:20], test[1][:20]):
                small = np.asarray(Image.fromarray(image).resize((8, 8), Image.BILINEAR), float).reshape(-1)
                nearest = np.abs(originals - small).mean(axis=1).argmin()
                self.assertLess(np.abs(originals[nearest] - small).mean(), 30)
                self.assertEqual(digits.target[nearest], label)
            # imret reads it (a ConvNet trained for 0 epochs on it).
            run = subprocess.run([os.environ["IMRET"], "-q", "train", "--data", out, "--epochs", "0", "-o",
                                  f"{out}/run"], capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stderr)


if __name__ == "__main__":
    unittest.main()
