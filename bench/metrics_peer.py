#!/usr/bin/python3
"""Peer of bench/metrics.cpp: the same metric set with scikit-learn and NumPy.

Reads DIR/scores.npy (Q x N float32), DIR/query_labels.npy and
DIR/database_labels.npy (float32 class labels); relevant = same label.
Per query: sklearn.metrics.average_precision_score, then one stable NumPy
argsort (ties in database order) for P@K, R@K, hit@K, mAP@R, R-precision and
the reciprocal rank. Times only the metric loop (the data is loaded first) and
writes DIR/peer.json: {"seconds", "queries", "per_query": [[columns...]]} with
the columns of imret_bench_metrics --per-query-metrics.
"""
import argparse
import json
import os
import time
import warnings

import numpy as np
from sklearn.metrics import average_precision_score


def query_metrics(scores, relevant, ks):
    n = scores.shape[0]
    num_relevant = int(relevant.sum())
    if num_relevant == 0:
        return [0.0] * (5 + 3 * len(ks))
    ap = average_precision_score(relevant, scores)
    ranked = relevant[np.argsort(-scores, kind="stable")]
    hits = np.cumsum(ranked)
    top_r = ranked[:num_relevant]
    map_at_r = float(np.sum(hits[:num_relevant][top_r] / np.arange(1, num_relevant + 1)[top_r])) / num_relevant
    r_precision = hits[num_relevant - 1] / num_relevant
    reciprocal_rank = 1.0 / (int(np.argmax(ranked)) + 1)
    in_top = [int(hits[min(k, n) - 1]) for k in ks]
    return ([float(num_relevant), float(ap), map_at_r, float(r_precision), reciprocal_rank]
            + [h / k for h, k in zip(in_top, ks)]
            + [h / num_relevant for h in in_top]
            + [1.0 if h > 0 else 0.0 for h in in_top])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--ks", default="1,5,10")
    parser.add_argument("--queries", type=int, default=-1, help="only the first QUERIES queries")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    scores = np.load(os.path.join(args.dir, "scores.npy"))
    query_labels = np.load(os.path.join(args.dir, "query_labels.npy")).reshape(-1)
    database_labels = np.load(os.path.join(args.dir, "database_labels.npy")).reshape(-1)
    count = scores.shape[0] if args.queries < 0 else min(args.queries, scores.shape[0])

    warnings.simplefilter("ignore")  # sklearn warns on queries without relevant items
    start = time.perf_counter()
    per_query = [query_metrics(scores[q], database_labels == query_labels[q], ks) for q in range(count)]
    seconds = time.perf_counter() - start
    with open(os.path.join(args.dir, "peer.json"), "w") as out:
        json.dump({"seconds": seconds, "queries": count, "per_query": per_query}, out)
    print(f"peer: {count} queries in {seconds:.3f} s", flush=True)


if __name__ == "__main__":
    main()
