#!/usr/bin/python3
"""Re-ranking through `imret search --rerank` against NumPy/SciPy references
written from each method's published definition:

  - k-reciprocal: Zhong et al.'s re_ranking (k-reciprocal sets, the 2/3
    expansion from sets of round(k1/2), Gaussian weights, local query
    expansion over k2, Jaccard distance, lambda mix), dense, run on each
    query with its shortlist as the gallery, as imret defines it;
  - diffusion: Iscen et al.'s truncated diffusion (mutual kNN graph with
    cos^gamma weights, symmetric normalisation, (I - alpha S) f = y) solved
    exactly with NumPy, against imret's conjugate gradient run to convergence;
  - alpha-QE and DBA: the weighted means, then a plain exact search.

Clustered random embeddings (no ties) in both metrics. imret's results are
the JSON of `imret search`.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np


def imret_binary():
    path = os.environ.get("IMRET")
    if not path:
        raise RuntimeError("IMRET is not set (run through ctest)")
    return path


def write_folder(folder, vectors, labels):
    os.makedirs(folder)
    np.save(os.path.join(folder, "embeddings.npy"), vectors.astype(np.float32))
    with open(os.path.join(folder, "items.jsonl"), "w") as f:
        for i, label in enumerate(labels):
            f.write(json.dumps({"index": i, "source": f"x{i}.png", "label": int(label), "class": f"c{label}"}) + "\n")
    with open(os.path.join(folder, "meta.json"), "w") as f:
        json.dump({"classes": [f"c{c}" for c in range(labels.max() + 1)]}, f)


def make_data(seed, n=240, q=12, d=8, clusters=4):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, d)) * 1.5
    labels = rng.integers(0, clusters, n)
    database = centres[labels] + rng.normal(size=(n, d))
    query_labels = rng.integers(0, clusters, q)
    queries = centres[query_labels] + rng.normal(size=(q, d))
    return database.astype(np.float32), labels, queries.astype(np.float32), query_labels


def unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def as_indexed(x, metric):
    x = x.astype(np.float64)
    return unit(x) if metric == "cosine" else x


def exact_order(queries, database, metric):
    """Each query's database ids, best first (what the exact index ranks)."""
    q, x = as_indexed(queries, metric), as_indexed(database, metric)
    if metric == "cosine":
        return np.argsort(-(q @ x.T), axis=1, kind="stable")
    d2 = (q ** 2).sum(1)[:, None] - 2 * q @ x.T + (x ** 2).sum(1)[None, :]
    return np.argsort(d2, axis=1, kind="stable")


def k_reciprocal_neighbours(initial_rank, i, k):
    forward = initial_rank[i, : k + 1]
    backward = initial_rank[forward, : k + 1]
    return forward[np.where(backward == i)[0]]


def zhong_re_ranking(original_dist, k1, k2, lambda_value):
    """Zhong et al. (CVPR 2017) on one set whose item 0 is the query: the
    final distances of item 0 to items 1..n-1."""
    n = original_dist.shape[0]
    original_dist = np.transpose(original_dist / np.max(original_dist, axis=0))
    initial_rank = np.argsort(original_dist, axis=1, kind="stable")
    v = np.zeros((n, n))
    for i in range(n):
        k_reciprocal = k_reciprocal_neighbours(initial_rank, i, k1)
        expansion = k_reciprocal
        for candidate in k_reciprocal:
            candidate_set = k_reciprocal_neighbours(initial_rank, candidate, int(np.around(k1 / 2.0)))
            if len(np.intersect1d(candidate_set, k_reciprocal)) > 2.0 / 3 * len(candidate_set):
                expansion = np.append(expansion, candidate_set)
        expansion = np.unique(expansion)
        weight = np.exp(-original_dist[i, expansion])
        v[i, expansion] = weight / np.sum(weight)
    if k2 != 1:
        v = np.stack([np.mean(v[initial_rank[i, :k2], :], axis=0) for i in range(n)])
    shared = np.minimum(v[0][None, :], v).sum(1)
    jaccard = 1 - shared / (2 - shared)
    return (jaccard * (1 - lambda_value) + original_dist[0] * lambda_value)[1:]


def reference_k_reciprocal(queries, database, metric, depth, k1, k2, lam):
    q, x = as_indexed(queries, metric), as_indexed(database, metric)
    orders = exact_order(queries, database, metric)
    out = []
    for i in range(len(q)):
        shortlist = orders[i, :depth]
        points = np.vstack([q[i][None, :], x[shortlist]])
        d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(2)
        final = zhong_re_ranking(d2, k1, k2, lam)
        out.append(shortlist[np.argsort(final, kind="stable")])
    return np.array(out)


def reference_diffusion(queries, database, metric, depth, k, kq, alpha, gamma):
    q, x = as_indexed(queries, metric), as_indexed(database, metric)
    xu = unit(x)
    cos = xu @ xu.T
    graph_order = exact_order(database, database, metric)
    neighbours = [[j for j in graph_order[i] if j != i][:k] for i in range(len(x))]
    orders = exact_order(queries, database, metric)
    out, scores = [], []
    for i in range(len(q)):
        shortlist = orders[i, :depth]
        m = len(shortlist)
        w = np.zeros((m, m))
        for a in range(m):
            for b in range(m):
                ia, ib = shortlist[a], shortlist[b]
                if a != b and ib in neighbours[ia] and ia in neighbours[ib]:
                    w[a, b] = max(cos[ia, ib], 0) ** gamma
        degree = w.sum(1)
        scale = np.where(degree > 0, 1 / np.sqrt(np.where(degree > 0, degree, 1)), 0)
        s = scale[:, None] * w * scale[None, :]
        y = np.zeros(m)
        y[:kq] = np.maximum(xu[shortlist[:kq]] @ unit(q[i][None, :])[0], 0) ** gamma
        f = np.linalg.solve(np.eye(m) - alpha * s, y)
        order = np.argsort(-f, kind="stable")
        out.append(shortlist[order])
        scores.append(f[order])
    return np.array(out), np.array(scores)


def reference_aqe_then_search(queries, database, metric, k, alpha):
    q, x = as_indexed(queries, metric), as_indexed(database, metric)
    first = exact_order(queries, database, metric)[:, :k]
    expanded = []
    for i in range(len(q)):
        weights = np.maximum(unit(x[first[i]]) @ unit(q[i][None, :])[0], 0) ** alpha
        expanded.append((q[i] + (weights[:, None] * x[first[i]]).sum(0)) / (1 + weights.sum()))
    return exact_order(np.array(expanded), database, metric)


def reference_dba(database, metric, k, alpha):
    x = as_indexed(database, metric)
    order = exact_order(database, database, metric)
    xu = unit(x)
    out = np.empty_like(x)
    for i in range(len(x)):
        others = [j for j in order[i] if j != i][:k]
        weights = np.maximum(xu[others] @ xu[i], 0) ** alpha
        out[i] = (x[i] + (weights[:, None] * x[others]).sum(0)) / (1 + weights.sum())
    return out


class RerankParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.database, labels, cls.queries, query_labels = make_data(11)
        cls.db_folder = os.path.join(cls.tmp.name, "db")
        cls.query_folder = os.path.join(cls.tmp.name, "queries")
        write_folder(cls.db_folder, cls.database, labels)
        write_folder(cls.query_folder, cls.queries, query_labels)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def search(self, metric, rerank, k, depth, database=None, index="exact"):
        command = [imret_binary(), "-q", "search", "-d", database or self.db_folder, "--queries", self.query_folder,
                   "--first", "0", "-k", str(k), "--metric", metric, "--json", "--rerank", rerank,
                   "--rerank-depth", str(depth), "--index", index]
        done = subprocess.run(command, capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        hits = json.loads(done.stdout)
        ids = np.array([[h["id"] for h in query["results"]] for query in hits])
        rerank_scores = [[h.get("rerank_score") for h in query["results"]] for query in hits]
        return ids, rerank_scores

    def test_k_reciprocal_equals_the_authors_definition(self):
        for metric in ("euclidean", "cosine"):
            for k1, k2, lam, depth in ((20, 6, 0.3, 60), (7, 1, 0.0, 40), (5, 3, 0.6, 25)):
                with self.subTest(metric=metric, k1=k1, k2=k2, lam=lam):
                    ids, _ = self.search(metric, f"kreciprocal:k1={k1},k2={k2},lambda={lam}", depth, depth)
                    expected = reference_k_reciprocal(self.queries, self.database, metric, depth, k1, k2, lam)
                    np.testing.assert_array_equal(ids, expected)
                    plain = exact_order(self.queries, self.database, metric)[:, :depth]
                    self.assertFalse(np.array_equal(ids, plain), "the method changed nothing")

    def test_diffusion_equals_the_exact_solve(self):
        for metric in ("euclidean", "cosine"):
            with self.subTest(metric=metric):
                k, kq, alpha, gamma, depth = 10, 8, 0.9, 3, 50
                ids, scores = self.search(metric, f"diffusion:k={k},kq={kq},alpha={alpha},gamma={gamma},iterations=500",
                                          depth, depth)
                expected, expected_scores = reference_diffusion(self.queries, self.database, metric, depth, k, kq, alpha,
                                                                gamma)
                positive = expected_scores > 1e-9  # items no path reaches tie at 0: compared as a set below
                np.testing.assert_array_equal(ids[positive], expected[positive])
                np.testing.assert_allclose(np.array(scores, dtype=np.float64)[positive], expected_scores[positive],
                                           rtol=1e-4)
                for row, expected_row in zip(ids, expected):
                    self.assertEqual(sorted(row), sorted(expected_row))

    def test_query_expansion_and_database_augmentation(self):
        for metric in ("euclidean", "cosine"):
            with self.subTest(metric=metric, method="aqe"):
                ids, _ = self.search(metric, "aqe:k=4,alpha=2", 30, 100)
                expected = reference_aqe_then_search(self.queries, self.database, metric, 4, 2)[:, :30]
                np.testing.assert_array_equal(ids, expected)
            with self.subTest(metric=metric, method="dba"):
                ids, _ = self.search(metric, "dba:k=3,alpha=1", 30, 100)
                augmented = reference_dba(self.database, metric, 3, 1)
                expected = exact_order(self.queries, augmented, metric)[:, :30]
                np.testing.assert_array_equal(ids, expected)

    def test_saved_index_with_database_augmentation(self):
        """index build --rerank dba records it; index search with the same gives what search gives."""
        folder = os.path.join(self.tmp.name, "index-dba")
        built = subprocess.run([imret_binary(), "-q", "index", "build", self.db_folder, "-o", folder, "--metric",
                                "cosine", "--rerank", "dba:k=3,alpha=1"], capture_output=True, text=True)
        self.assertEqual(built.returncode, 0, built.stderr)
        with open(os.path.join(folder, "manifest.json")) as f:
            self.assertEqual(json.load(f)["augmentation"], "dba:k=3,alpha=1")
        plan = "dba:k=3,alpha=1+kreciprocal:k1=6,k2=2"
        searched = subprocess.run([imret_binary(), "-q", "index", "search", folder, "--queries", self.query_folder,
                                   "--first", "0", "-k", "20", "--json", "--rerank", plan, "--rerank-depth", "40"],
                                  capture_output=True, text=True)
        self.assertEqual(searched.returncode, 0, searched.stderr)
        from_index = np.array([[h["id"] for h in q["results"]] for q in json.loads(searched.stdout)])
        on_the_fly, _ = self.search("cosine", plan, 20, 40)
        np.testing.assert_array_equal(from_index, on_the_fly)
        # Without the database part, or with another, the index says what it was built with.
        for other in ("kreciprocal", "dba:k=5+aqe"):
            refused = subprocess.run([imret_binary(), "-q", "index", "search", folder, "--queries", self.query_folder,
                                      "--rerank", other], capture_output=True, text=True)
            self.assertNotEqual(refused.returncode, 0)
            self.assertIn("dba:k=3,alpha=1", refused.stderr)
            self.assertEqual(len(refused.stderr.strip().splitlines()), 1, refused.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
