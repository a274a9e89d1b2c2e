#!/usr/bin/python3
"""k-reciprocal re-ranking as users run it today against imret's.

    /usr/bin/python3 bench/rerank_peer.py --imret build/imret \
        --queries runs/x/embeddings/queries --database runs/x/embeddings/database [--q 500] [--n 5000]

The peer is the authors' re_ranking (Zhong et al., CVPR 2017; the NumPy
version everyone copies): the distances of all queries and database items
together, (Q + N)^2, every item's k-reciprocal set, the Jaccard distance of
every query to every item. It is transcribed here from the published
definitions (the same code as tests/parity/test_rerank.py, over the whole
set). imret re-ranks each query's shortlist of 100 (`imret evaluate --rerank
kreciprocal --rerank-depth 100`). Both run on the first --q queries and --n
database items (L2-normalised, so squared distances are 2 - 2 cos), k1=20,
k2=6, lambda=0.3, and both are graded on the full ranking: mAP and P@1.
Prints each one's time and quality, and the ratio. At 10,000 x 60,000 the
peer would need a 70,000^2 matrix (19.6 GB of float32, more than this
machine's memory with V beside it); imret needs K^2 per query and thread.
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import numpy as np


def load(folder, count):
    vectors = np.load(os.path.join(folder, "embeddings.npy"))[:count].astype(np.float32)
    with open(os.path.join(folder, "items.jsonl")) as f:
        items = [json.loads(line) for _, line in zip(range(count), f)]
    return vectors, items


def write(folder, vectors, items):
    os.makedirs(folder)
    np.save(os.path.join(folder, "embeddings.npy"), vectors)
    with open(os.path.join(folder, "items.jsonl"), "w") as f:
        for item in items:
            f.write(json.dumps(item) + "\n")


def k_reciprocal(initial_rank, i, k):
    forward = initial_rank[i, : k + 1]
    backward = initial_rank[forward, : k + 1]
    return forward[np.where(backward == i)[0]]


def re_ranking(q_g, q_q, g_g, k1=20, k2=6, lambda_value=0.3):
    """The authors' algorithm over queries and database together (squared distances in)."""
    query_num = q_g.shape[0]
    original = np.concatenate([np.concatenate([q_q, q_g], axis=1), np.concatenate([q_g.T, g_g], axis=1)], axis=0)
    original = np.transpose(original / np.max(original, axis=0)).astype(np.float32)
    all_num = original.shape[0]
    v = np.zeros_like(original)
    initial_rank = np.argsort(original, axis=1).astype(np.int32)
    for i in range(all_num):
        reciprocal = k_reciprocal(initial_rank, i, k1)
        expansion = reciprocal
        for candidate in reciprocal:
            inner = k_reciprocal(initial_rank, candidate, int(np.around(k1 / 2.0)))
            if len(np.intersect1d(inner, reciprocal)) > 2.0 / 3 * len(inner):
                expansion = np.append(expansion, inner)
        expansion = np.unique(expansion)
        weight = np.exp(-original[i, expansion])
        v[i, expansion] = weight / np.sum(weight)
    if k2 != 1:
        v_qe = np.zeros_like(v)
        for i in range(all_num):
            v_qe[i, :] = np.mean(v[initial_rank[i, :k2], :], axis=0)
        v = v_qe
    inverted = [np.where(v[:, i] != 0)[0] for i in range(all_num)]
    jaccard = np.zeros((query_num, all_num), dtype=np.float32)
    for i in range(query_num):
        shared = np.zeros(all_num, dtype=np.float32)
        nonzero = np.where(v[i, :] != 0)[0]
        for j in nonzero:
            shared[inverted[j]] += np.minimum(v[i, j], v[inverted[j], j])
        jaccard[i] = 1 - shared / (2 - shared)
    final = jaccard * (1 - lambda_value) + original[:query_num] * lambda_value
    return final[:, query_num:]


def grade(distances, query_labels, database_labels):
    """mAP (full ranking) and P@1 of Q x N distances, lower = better."""
    order = np.argsort(distances, axis=1, kind="stable")
    relevant = database_labels[order] == query_labels[:, None]
    hits = np.cumsum(relevant, axis=1)
    precision = hits / np.arange(1, relevant.shape[1] + 1)[None, :]
    ap = (precision * relevant).sum(1) / np.maximum(relevant.sum(1), 1)
    return ap.mean(), relevant[:, 0].mean()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--imret", required=True)
    parser.add_argument("--queries", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--q", type=int, default=500)
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    queries, query_items = load(args.queries, args.q)
    database, database_items = load(args.database, args.n)
    query_labels = np.array([i["label"] for i in query_items])
    database_labels = np.array([i["label"] for i in database_items])
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    d = database / np.linalg.norm(database, axis=1, keepdims=True)
    print(f"k-reciprocal re-ranking (k1=20, k2=6, lambda=0.3): {len(q)} queries x {len(d)} database items, "
          f"{q.shape[1]}-d, cosine")

    plain_map, plain_p1 = grade(2 - 2 * q @ d.T, query_labels, database_labels)
    begin = time.perf_counter()
    final = re_ranking(np.maximum(2 - 2 * q @ d.T, 0), np.maximum(2 - 2 * q @ q.T, 0), np.maximum(2 - 2 * d @ d.T, 0))
    peer_seconds = time.perf_counter() - begin
    peer_map, peer_p1 = grade(final, query_labels, database_labels)

    with tempfile.TemporaryDirectory() as tmp:
        write(os.path.join(tmp, "q"), queries, query_items)
        write(os.path.join(tmp, "d"), database, database_items)
        begin = time.perf_counter()
        subprocess.run([args.imret, "-q", "evaluate", "-q", os.path.join(tmp, "q"), "-d", os.path.join(tmp, "d"),
                        "--metric", "cosine", "--knn", "0", "-o", os.path.join(tmp, "eval"), "--rerank",
                        "kreciprocal:k1=20,k2=6,lambda=0.3", "--rerank-depth", "100"], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(tmp, "eval", "metrics.json")) as f:
            row = json.load(f)["rerank"][1]
    imret_seconds = row["search ms/query"] * len(q) / 1000

    print(f"{'':40} {'seconds':>9} {'mAP':>8} {'P@1':>8}")
    print(f"{'no re-ranking':40} {'':>9} {plain_map:8.4f} {plain_p1:8.4f}")
    print(f"{'peer: re_ranking.py (NumPy, all pairs)':40} {peer_seconds:9.2f} {peer_map:8.4f} {peer_p1:8.4f}")
    print(f"{'imret: shortlist of 100 per query':40} {imret_seconds:9.2f} {row['mAP']:8.4f} {row['P@1']:8.4f}")
    print(f"imret / peer time: {imret_seconds / peer_seconds:.4f} ({peer_seconds / imret_seconds:.0f}x faster); "
          f"imret's time is its search + re-ranking of every query (search ms/query x queries)")


if __name__ == "__main__":
    main()
