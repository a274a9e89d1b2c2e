"""Exit 0 when two folders hold the same files (hidden ones included: a
leftover temporary file is a difference) with the same content (.npy arrays
equal to 1e-6), else print the first difference and exit 1.

usage: same_folder.py A B
"""
import os
import sys

import numpy as np


def files(root):
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            found[os.path.relpath(path, root)] = path
    return found


a, b = files(sys.argv[1]), files(sys.argv[2])
if sorted(a) != sorted(b):
    print(f"different files: {sorted(set(a) ^ set(b))}")
    sys.exit(1)
for name in sorted(a):
    if name.endswith(".npy"):
        x, y = np.load(a[name]), np.load(b[name])
        if x.shape != y.shape or not np.allclose(x, y, rtol=1e-6, atol=1e-7):
            print(f"{name}: arrays differ")
            sys.exit(1)
    elif open(a[name], "rb").read() != open(b[name], "rb").read():
        print(f"{name}: contents differ")
        sys.exit(1)
