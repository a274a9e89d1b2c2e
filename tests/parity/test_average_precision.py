#!/usr/bin/python3
"""Parity of imret's ranking metrics with scikit-learn and a NumPy reference.

Random score matrices with many ties (rounded scores, fully tied rows, -0.0 vs
+0.0), excluded items (-1), queries without relevant items and queries where
everything is relevant. imret runs through the benchmark program's per-query
modes (bench/metrics.cpp), which write float64 .npy files:
  - per-query AP vs sklearn.metrics.average_precision_score, to 1e-9;
  - P@K, R@K, hit@K, mAP@R, R-precision and the reciprocal rank vs a NumPy
    reference (stable sort: tied items in database order), to 1e-12.
"""
import os
import subprocess
import sys
import tempfile
import unittest
import warnings

import numpy as np
from sklearn.metrics import average_precision_score

KS = [1, 3, 10, 1000]


def bench_binary():
    build = os.environ.get("IMRET_BUILD_DIR")
    if not build:
        raise RuntimeError("IMRET_BUILD_DIR is not set (run through ctest)")
    path = os.path.join(build, "bench", "imret_bench_metrics")
    if not os.path.exists(path):
        raise RuntimeError(path + " is missing: build the imret_bench_metrics target")
    return path


def make_case(seed, queries=80, database=400):
    rng = np.random.default_rng(seed)
    relevance = (rng.random((queries, database)) < 0.15).astype(np.float32)
    relevance[rng.random((queries, database)) < 0.05] = -1  # excluded items
    scores = rng.normal(size=(queries, database)) + 0.7 * (relevance > 0)
    style = np.arange(queries) % 4
    scores[style == 0] = np.round(scores[style == 0], 1)  # heavy ties
    scores[style == 1] = np.round(scores[style == 1] * 3)  # very heavy ties
    scores[style == 2] *= 1e5  # wide range
    scores = scores.astype(np.float32)
    scores[4] = 0.5  # one fully tied row
    scores[5, ::2] = -0.0  # -0.0 and +0.0 tie
    scores[5, 1::2] = 0.0
    relevance[6] = np.where(relevance[6] > 0, 0, relevance[6])  # no relevant item
    relevance[7] = 1  # everything relevant
    relevance[8] = -1  # everything excluded
    relevance[8, 3] = 1
    return scores, relevance


def run_imret(mode, scores, relevance, workdir):
    scores_path = os.path.join(workdir, "scores.npy")
    relevance_path = os.path.join(workdir, "relevance.npy")
    out_path = os.path.join(workdir, "out.npy")
    np.save(scores_path, scores)
    np.save(relevance_path, relevance)
    subprocess.run([bench_binary(), mode, scores_path, relevance_path, out_path, "--ks", ",".join(map(str, KS))],
                   check=True)
    out = np.load(out_path)
    assert out.dtype == np.float64 and out.shape[0] == scores.shape[0], (out.dtype, out.shape)
    return out


def reference_metrics(scores, relevance):
    """Columns of --per-query-metrics: num_relevant, AP, mAP@R, R-precision, RR, P@K.., R@K.., hit@K.."""
    keep = relevance >= 0
    s, rel = scores[keep], relevance[keep] > 0
    n, r = len(s), int(rel.sum())
    if r == 0:
        return np.zeros(5 + 3 * len(KS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ap = average_precision_score(rel, s)
    ranked = rel[np.argsort(-s, kind="stable")]
    hits = np.cumsum(ranked)
    precision_at_rank = hits / np.arange(1, n + 1)
    map_at_r = np.sum(precision_at_rank[:r] * ranked[:r]) / r
    r_precision = hits[r - 1] / r
    rr = 1.0 / (np.argmax(ranked) + 1)
    top = np.array([hits[min(k, n) - 1] for k in KS], dtype=np.float64)
    return np.concatenate([[r, ap, map_at_r, r_precision, rr], top / np.array(KS), top / r, (top > 0) * 1.0])


class AveragePrecisionParity(unittest.TestCase):
    def test_average_precision_matches_sklearn(self):
        for seed in range(3):
            scores, relevance = make_case(seed)
            with tempfile.TemporaryDirectory() as workdir:
                ours = run_imret("--per-query-ap", scores, relevance, workdir)[:, 0]
            for q in range(scores.shape[0]):
                keep = relevance[q] >= 0
                rel = relevance[q][keep] > 0
                if not rel.any():
                    self.assertEqual(ours[q], 0.0, f"seed {seed} query {q}: no relevant item -> 0")
                    continue
                expected = average_precision_score(rel, scores[q][keep])
                self.assertAlmostEqual(ours[q], expected, delta=1e-9, msg=f"seed {seed} query {q}")

    def test_rank_metrics_match_numpy_reference(self):
        scores, relevance = make_case(11)
        with tempfile.TemporaryDirectory() as workdir:
            ours = run_imret("--per-query-metrics", scores, relevance, workdir)
        self.assertEqual(ours.shape[1], 5 + 3 * len(KS))
        for q in range(scores.shape[0]):
            expected = reference_metrics(scores[q], relevance[q])
            np.testing.assert_allclose(ours[q, 0], expected[0], err_msg=f"query {q} num_relevant")
            np.testing.assert_allclose(ours[q, 1], expected[1], atol=1e-9, rtol=0, err_msg=f"query {q} AP")
            np.testing.assert_allclose(ours[q, 2:], expected[2:], atol=1e-12, rtol=0, err_msg=f"query {q}")

    def test_sanity_of_the_cases(self):
        # The cases must really contain ties, exclusions and empty queries,
        # or the tests above would prove less than they claim.
        scores, relevance = make_case(0)
        tied_rows = sum(len(np.unique(row)) < len(row) // 2 for row in scores)
        self.assertGreater(tied_rows, 20)
        self.assertTrue((relevance == -1).any())
        self.assertFalse((relevance[6] > 0).any())


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=2).result.wasSuccessful() else 1)
