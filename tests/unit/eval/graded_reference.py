#!/usr/bin/python3
"""Reference for graded_metrics_test.cpp: nDCG@K by scikit-learn's ndcg_score
and graded AP by a direct NumPy implementation of its definition.

Usage: graded_reference.py DIR. Reads DIR/scores.npy and DIR/gains.npy (Q x N
float32; a negative gain = excluded item, removed first) and DIR/ks.npy
(1 x M float32, the nDCG cut-offs). Writes DIR/ndcg.txt (Q lines of M values)
and DIR/graded_ap.txt (Q lines), each value printed with 17 significant
digits; "nan" for a row with fewer than 2 items or no positive gain (sklearn
refuses one item; such rows have no defined value).
"""
import sys

import numpy as np
from sklearn.metrics import ndcg_score


def graded_average_precision(gains, scores):
    """(1 / sum g) * sum_n (1/n) * sum_{m<=n} min(g_m, g_n); ranks by
    descending score, ties in input order (a stable sort)."""
    order = np.argsort(-scores, kind="stable")
    ranked = gains[order]
    pairwise = np.tril(np.minimum.outer(ranked, ranked))  # m <= n
    inner = pairwise.sum(axis=1)
    return float((inner / np.arange(1, len(ranked) + 1)).sum() / gains.sum())


def main():
    folder = sys.argv[1]
    scores = np.load(f"{folder}/scores.npy").astype(np.float64)
    gains = np.load(f"{folder}/gains.npy").astype(np.float64)
    ks = [int(k) for k in np.load(f"{folder}/ks.npy").ravel()]
    ndcg_lines, ap_lines = [], []
    for row_scores, row_gains in zip(scores, gains):
        keep = row_gains >= 0
        s, g = row_scores[keep], row_gains[keep]
        if len(g) < 2 or g.sum() <= 0:
            ndcg_lines.append(" ".join(["nan"] * len(ks)))
            ap_lines.append("nan")
            continue
        ndcg = [ndcg_score(g[None, :], s[None, :], k=k) for k in ks]
        ndcg_lines.append(" ".join(f"{v:.17g}" for v in ndcg))
        ap_lines.append(f"{graded_average_precision(g, s):.17g}")
    with open(f"{folder}/ndcg.txt", "w") as out:
        out.write("\n".join(ndcg_lines) + "\n")
    with open(f"{folder}/graded_ap.txt", "w") as out:
        out.write("\n".join(ap_lines) + "\n")


if __name__ == "__main__":
    main()
