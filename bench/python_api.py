"""The Python module imret against the Python stacks on the same data, in one
run: scikit-learn (average precision, t-SNE), umap-learn, FAISS's Python
module, torch.load. Prints both times and the ratio, and the binding's
overhead: the module's retrieval_metrics on 10k x 60k against the C++ bench
(imret_bench_metrics --embedding-dim 64) doing the same work.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_api.py [--build build] [--quick]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

import imret


def best_of(repeats, call):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def row(name, ours, theirs, note=""):
    print(f"{name:44} {ours:9.3f} s {theirs:9.3f} s {theirs / ours:7.2f}x  {note}", flush=True)


def clustered(rng, n, d, classes):
    centres = rng.normal(scale=3, size=(classes, d))
    labels = rng.integers(0, classes, n)
    return (centres[labels] + rng.normal(size=(n, d))).astype(np.float32), labels


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default="build")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a minute)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'':44} {'imret':>11} {'peer':>11} {'ratio':>8}")

    # Average precision of one long ranking, with ties.
    from sklearn.metrics import average_precision_score
    n = 200_000 if args.quick else 1_000_000
    y = rng.integers(0, 2, n)
    s = np.round(rng.random(n), 3).astype(np.float32)
    row(f"average_precision, {n} scores (sklearn)", best_of(3, lambda: imret.metrics.average_precision(y, s)),
        best_of(1, lambda: average_precision_score(y, s)))

    # Retrieval metrics, 10k queries x 60k items, cosine; sklearn per query (extrapolated).
    q_n, db_n = (2000, 12000) if args.quick else (10_000, 60_000)
    db, db_labels = clustered(rng, db_n, 64, 10)
    q, q_labels = clustered(rng, q_n, 64, 10)
    ours = best_of(2, lambda: imret.metrics.retrieval_metrics(q, q_labels, db, db_labels, metric="cosine"))
    peer_queries = 100
    dbn = db / np.linalg.norm(db, axis=1, keepdims=True)

    def sklearn_loop():
        qn = q[:peer_queries] / np.linalg.norm(q[:peer_queries], axis=1, keepdims=True)
        sims = qn @ dbn.T
        for i in range(peer_queries):
            average_precision_score(db_labels == q_labels[i], sims[i])
    theirs = best_of(1, sklearn_loop) * q_n / peer_queries
    row(f"retrieval mAP, {q_n} x {db_n} (sklearn loop)", ours, theirs, f"(peer timed on {peer_queries} queries)")

    # The binding's overhead against the C++ bench doing the same work.
    bench = os.path.join(args.build, "bench", "imret_bench_metrics")
    if not args.quick and os.path.exists(bench):
        out = subprocess.run([bench, "--no-peer", "--embedding-dim", "64", "--repeats", "1"], capture_output=True,
                             text=True, check=True).stdout
        cpp = float(re.search(r"end to end \(cosine, dim 64.*?\): ([0-9.]+) s", out).group(1))
        print(f"{'binding overhead, retrieval_metrics 10k x 60k':44} {ours:9.3f} s {cpp:9.3f} s (C++ bench) "
              f"{(ours - cpp) / cpp * 100:+6.1f}%", flush=True)

    # Exact search, 10k queries x 60k, k = 10, against FAISS's IndexFlatL2 / HNSW32.
    import faiss
    index = imret.search.Index("exact", metric="l2")
    index.add(db)
    flat = faiss.IndexFlatL2(64)
    flat.add(db)
    row(f"exact search, {q_n} x {db_n}, k=10 (faiss Flat)", best_of(3, lambda: index.search(q, 10)),
        best_of(3, lambda: flat.search(q, 10)))
    hnsw = imret.search.Index("faiss:HNSW32", metric="l2")
    hnsw.add(db)
    theirs_hnsw = faiss.IndexHNSWFlat(64, 32)
    theirs_hnsw.add(db)
    row(f"HNSW32 search, {q_n} x {db_n}, k=10 (faiss)", best_of(3, lambda: hnsw.search(q, 10)),
        best_of(3, lambda: theirs_hnsw.search(q, 10)), "(the same FAISS underneath)")

    # t-SNE and UMAP on clustered points.
    from sklearn.manifold import TSNE as SkTSNE
    points, _ = clustered(rng, 1500 if args.quick else 5000, 50, 10)
    row(f"t-SNE, {len(points)} x 50 (sklearn)",
        best_of(1, lambda: imret.manifold.TSNE(random_state=0).fit_transform(points)),
        best_of(1, lambda: SkTSNE(random_state=0, init="pca", learning_rate="auto").fit_transform(points)))
    import umap
    umap.UMAP(random_state=0).fit_transform(points[:300])  # numba's compile, not timed
    row(f"UMAP, {len(points)} x 50 (umap-learn)",
        best_of(1, lambda: imret.manifold.UMAP(random_state=0).fit_transform(points)),
        best_of(1, lambda: umap.UMAP(random_state=0).fit_transform(points)))

    # Weights: a ResNet-50 state dict saved by torch.
    import torch
    import torchvision
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "resnet50.pth")
        torch.save(torchvision.models.resnet50().state_dict(), path)
        row("weights.load, ResNet-50 .pth (torch.load)", best_of(3, lambda: imret.weights.load(path)),
            best_of(3, lambda: torch.load(path)))


if __name__ == "__main__":
    sys.exit(main())
