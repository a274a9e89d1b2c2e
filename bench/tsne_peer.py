#!/usr/bin/python3
"""Peer of bench/tsne.cpp: scikit-learn's TSNE on the same points.

Usage: tsne_peer.py DIR METHOD THREADS. Reads DIR/data.npy (N x D float32),
runs TSNE(method=METHOD, random_state=0, n_jobs=THREADS) with every other
option at its default (scikit-learn 1.2: perplexity 30, learning_rate "auto",
init "pca", 1000 iterations), prints "SECONDS KL" on stdout (the whole
fit_transform) and writes the embedding to DIR/embedding.npy (float32).
The Barnes-Hut gradient's OpenMP threads follow OMP_NUM_THREADS, which the
caller sets to THREADS.
"""
import sys
import time

import numpy as np
from sklearn.manifold import TSNE


def main():
    folder, method, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    data = np.load(f"{folder}/data.npy")
    model = TSNE(method=method, random_state=0, n_jobs=threads)
    begin = time.perf_counter()
    embedding = model.fit_transform(data)
    seconds = time.perf_counter() - begin
    np.save(f"{folder}/embedding.npy", np.ascontiguousarray(embedding, dtype=np.float32))
    print(f"{seconds} {model.kl_divergence_}")


if __name__ == "__main__":
    main()
