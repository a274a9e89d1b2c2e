#!/usr/bin/python3
"""Peer of bench/search_backends.cpp: scikit-learn's exact k-NN search.

Usage: search_backends_peer.py DIR K THREADS. Reads DIR/database.npy and
DIR/queries.npy (float32), fits NearestNeighbors(algorithm="brute",
metric="euclidean") and times kneighbors() of every query (the fit, a copy,
is not timed). Prints queries/s on stdout and writes the ids to DIR/ids.npy
(float32, exact below 2^24) for the recall check.
"""
import sys
import time

import numpy as np
from sklearn.neighbors import NearestNeighbors


def main():
    folder, k, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    database = np.load(f"{folder}/database.npy")
    queries = np.load(f"{folder}/queries.npy")
    search = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="euclidean", n_jobs=threads).fit(database)
    begin = time.perf_counter()
    _, ids = search.kneighbors(queries)
    seconds = time.perf_counter() - begin
    np.save(f"{folder}/ids.npy", ids.astype(np.float32))
    print(f"{len(queries) / seconds:.1f}")


if __name__ == "__main__":
    main()
