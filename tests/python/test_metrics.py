"""imret.metrics against scikit-learn, on random and on tied inputs."""
import threading
import time

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

import imret


@pytest.mark.parametrize("trial", range(20))
def test_average_precision_equals_sklearn_with_ties(trial):
    rng = np.random.default_rng(trial)
    n = int(rng.integers(2, 300))
    y = rng.integers(0, 2, n)
    y[0] = 1
    # Few distinct values: many ties, where implementations differ.
    scores = rng.integers(0, 1 + trial % 5 * 3, n).astype(np.float32) if trial % 2 else rng.random(n).astype(np.float32)
    assert imret.metrics.average_precision(y, scores) == pytest.approx(average_precision_score(y, scores), abs=1e-12)
    assert imret.metrics.average_precision(y.astype(bool), scores.astype(np.float64)) == pytest.approx(
        average_precision_score(y, scores), abs=1e-12)


def test_ranking_metrics_by_hand():
    # Relevant items at ranks 1 and 3 of 4 (scores descending).
    m = imret.metrics.ranking_metrics([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], k=[1, 2])
    assert m["relevant"] == 2
    assert m["AP"] == pytest.approx((1 + 2 / 3) / 2)
    assert m["mAP@R"] == pytest.approx((1 + 0) / 2)  # R = 2: P@1 * 1 + P@2 * 0
    assert m["R-precision"] == pytest.approx(0.5)
    assert m["RR"] == 1.0
    assert m["P@K"] == {1: 1.0, 2: 0.5}
    assert m["R@K"] == {1: 0.5, 2: 0.5}
    recall, precision = imret.metrics.pr_curve([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], points=3)
    assert recall.tolist() == [0, 0.5, 1]
    assert precision.tolist() == pytest.approx([1, 1, 2 / 3])


def retrieval_reference(q, ql, db, dbl, exclude_self):
    """mAP and P@1 by sklearn over a cosine similarity matrix."""
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    dn = db / np.linalg.norm(db, axis=1, keepdims=True)
    sim = (qn @ dn.T).astype(np.float32)
    aps, p1 = [], []
    for i in range(len(q)):
        keep = np.arange(len(db)) != i if exclude_self else np.ones(len(db), bool)
        rel = (dbl[keep] == ql[i]).astype(int)
        if rel.sum() == 0:
            continue
        aps.append(average_precision_score(rel, sim[i][keep]))
        order = np.argsort(-sim[i][keep], kind="stable")
        p1.append(rel[order[0]])
    return np.mean(aps), np.mean(p1)


@pytest.mark.parametrize("exclude_self", [False, True])
def test_retrieval_metrics_equal_sklearn(rng, exclude_self):
    db = rng.normal(size=(300, 16)).astype(np.float32)
    dbl = rng.integers(0, 5, 300)
    q, ql = (db, dbl) if exclude_self else (rng.normal(size=(60, 16)).astype(np.float32), rng.integers(0, 5, 60))
    got = imret.metrics.retrieval_metrics(q, ql, db, dbl, metric="cosine", k=(1, 5), exclude_self=exclude_self)
    mean_ap, p1 = retrieval_reference(q, ql, db, dbl, exclude_self)
    assert got["mAP"] == pytest.approx(mean_ap, abs=1e-6)
    assert got["P@K"]["1"] == pytest.approx(p1, abs=1e-9)
    assert got["queries"] == len(q)
    assert set(got["per_class_mAP"]) == set(np.unique(ql).tolist())
    assert np.mean(list(got["per_class_mAP"].values())) == pytest.approx(
        np.mean([got["per_class_mAP"][c] for c in np.unique(ql)]))
    # float64 input gives the same ranking metrics.
    got64 = imret.metrics.retrieval_metrics(q.astype(np.float64), ql, db.astype(np.float64), dbl, k=(1, 5),
                                            exclude_self=exclude_self)
    assert got64["mAP"] == pytest.approx(got["mAP"], abs=1e-6)


def test_bad_input_is_a_clear_value_error(rng):
    db = rng.normal(size=(10, 4)).astype(np.float32)
    labels = np.arange(10) % 2
    cases = [
        (lambda: imret.metrics.average_precision([1, 0], [0.5]), "2 and 1 values"),
        (lambda: imret.metrics.average_precision([1, 2], [0.5, 0.1]), "expected 0 or 1"),
        (lambda: imret.metrics.average_precision([1, 0], [np.nan, 0.1]), "NaN"),
        (lambda: imret.metrics.average_precision([], []), "empty"),
        (lambda: imret.metrics.retrieval_metrics(db, labels[:9], db, labels), "9 labels for 10 queries"),
        (lambda: imret.metrics.retrieval_metrics(db[:, :3], labels, db, labels), "3 and 4 dimensions"),
        (lambda: imret.metrics.retrieval_metrics(db.astype(np.int32), labels, db, labels), "float32 or float64"),
        (lambda: imret.metrics.retrieval_metrics(db[0], labels, db, labels), "2-D array"),
        (lambda: imret.metrics.retrieval_metrics(np.zeros((0, 4), np.float32), [], db, labels), "empty"),
        (lambda: imret.metrics.retrieval_metrics(np.full((10, 4), np.nan, np.float32), labels, db, labels), "NaN"),
        (lambda: imret.metrics.retrieval_metrics(db, labels, db, labels, metric="l1"), "metric l1"),
        (lambda: imret.metrics.retrieval_metrics(db, labels, db, labels, k=(0,)), "k:"),
    ]
    for call, words in cases:
        with pytest.raises(ValueError, match=words.replace("(", r"\(")):
            call()


def test_the_gil_is_released_during_a_computation(rng):
    db = rng.normal(size=(6000, 64)).astype(np.float32)
    labels = rng.integers(0, 10, 6000)
    call = lambda: imret.metrics.retrieval_metrics(db, labels, db, labels, exclude_self=True)  # noqa: E731
    call()
    start = time.perf_counter()
    call()
    one = time.perf_counter() - start
    # A Python thread that only counts: it gets to run while imret computes.
    counted, stop = [0], threading.Event()

    def count():
        while not stop.is_set():
            counted[0] += 1

    counter = threading.Thread(target=count)
    counter.start()
    call()
    stop.set()
    counter.join()
    assert counted[0] > 1000, f"a Python thread ran only {counted[0]} steps during a {one:.2f} s call: the GIL was held"
