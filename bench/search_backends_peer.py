#!/usr/bin/python3
"""Peer of bench/search_backends.cpp: an exact k-NN search in Python.

Usage: search_backends_peer.py DIR K THREADS [cuda]. Reads DIR/database.npy
and DIR/queries.npy (float32) and times a top-K Euclidean search of every
query; prints queries/s on stdout and writes the ids to DIR/ids.npy (float32,
exact below 2^24) for the recall check.

- CPU (default): scikit-learn's NearestNeighbors(algorithm="brute",
  metric="euclidean"); the fit, a copy, is not timed.
- cuda: PyTorch on the GPU, the usual way: the database on the GPU once (not
  timed), then per block of queries ||q||^2 - 2 q.d + ||d||^2 by one matrix
  product and torch.topk; queries from and ids to the CPU are timed. Best of
  three runs, as imret's side.
"""
import sys
import time

import numpy as np


def sklearn_search(database, queries, k, threads):
    from sklearn.neighbors import NearestNeighbors

    search = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="euclidean", n_jobs=threads).fit(database)
    begin = time.perf_counter()
    _, ids = search.kneighbors(queries)
    return ids, time.perf_counter() - begin


def torch_search(database, queries, k):
    import torch

    device = torch.device("cuda")
    d = torch.from_numpy(database).to(device)
    d_norms = (d * d).sum(1)
    block = max(1, (1 << 28) // max(1, d.shape[0]))  # scores of at most 256M floats a block

    def search():
        out = []
        for start in range(0, len(queries), block):
            q = torch.from_numpy(queries[start:start + block]).to(device)
            scores = d_norms[None, :] - 2 * (q @ d.t())  # + ||q||^2: the same for every item
            out.append(scores.topk(min(k, d.shape[0]), dim=1, largest=False).indices.cpu())
        return torch.cat(out).numpy()

    best = None
    for _ in range(3):
        torch.cuda.synchronize()
        begin = time.perf_counter()
        ids = search()
        seconds = time.perf_counter() - begin
        best = seconds if best is None else min(best, seconds)
    return ids, best


def main():
    folder, k, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    on_gpu = len(sys.argv) > 4 and sys.argv[4] == "cuda"
    database = np.load(f"{folder}/database.npy")
    queries = np.load(f"{folder}/queries.npy")
    ids, seconds = torch_search(database, queries, k) if on_gpu else sklearn_search(database, queries, k, threads)
    np.save(f"{folder}/ids.npy", ids.astype(np.float32))
    print(f"{len(queries) / seconds:.1f}")


if __name__ == "__main__":
    main()
