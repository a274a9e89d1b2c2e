#!/usr/bin/python3
"""Peer of bench/umap.cpp: umap-learn's UMAP on the same points.

Usage: umap_peer.py DIR [WARMUP]. Reads DIR/data.npy (N x D float32), runs
UMAP(random_state=0) with every other option at its default (umap-learn
0.5.3: n_neighbors 15, min_dist 0.1, spectral init, 200 or 500 epochs) and
prints "IMPORT COLD WARM" on stdout: the seconds of `import umap` (which
compiles part of umap-learn with numba), of the first fit_transform in this
fresh process (the rest of numba's JIT compilation included; numba's on-disk
cache is put in an empty temporary folder so nothing is reused from earlier
runs), and of a second fit_transform of the same data (0 when WARMUP is 0). Writes the
second embedding (or the first) to DIR/embedding.npy (float32).
random_state makes umap-learn single-threaded (its documented behaviour).
"""
import os
import sys
import tempfile
import time

os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="imret_umap_numba_"))

import numpy as np  # noqa: E402


def main():
    folder = sys.argv[1]
    warmup = len(sys.argv) < 3 or sys.argv[2] != "0"
    data = np.load(f"{folder}/data.npy")
    begin = time.perf_counter()
    import umap

    imported = time.perf_counter() - begin
    begin = time.perf_counter()
    embedding = umap.UMAP(random_state=0).fit_transform(data)
    cold = time.perf_counter() - begin
    warm = 0.0
    if warmup:
        begin = time.perf_counter()
        embedding = umap.UMAP(random_state=0).fit_transform(data)
        warm = time.perf_counter() - begin
    np.save(f"{folder}/embedding.npy", np.ascontiguousarray(embedding, dtype=np.float32))
    print(f"{imported} {cold} {warm}")


if __name__ == "__main__":
    main()
