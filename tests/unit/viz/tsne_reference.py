#!/usr/bin/python3
"""Reference values from scikit-learn 1.2 for tests/unit/viz/*_test.cpp.

Usage: tsne_reference.py COMMAND DIR [ARGS]. Every array is float32 .npy
(a scalar is written 1 x 1), read from and written to DIR:

  perplexity DIR PERPLEXITY   sqdist.npy (N x K squared distances) ->
                              conditional.npy: _utils._binary_search_perplexity
  joint_nn DIR PERPLEXITY     data.npy -> p.npy (N x N dense): the sparse P of
                              TSNE(method="barnes_hut")._fit (NearestNeighbors
                              kneighbors_graph, squared, _joint_probabilities_nn)
  joint_exact DIR PERPLEXITY  data.npy -> p.npy (N x N): _joint_probabilities
  kl DIR DOF                  p.npy (N x N symmetric), y.npy (N x d) ->
                              kl.npy, grad.npy: _kl_divergence
  kl_bh DIR DOF ANGLE         the same through _kl_divergence_bh (P's non-zeros)
  fashion DIR N               the first N Fashion-MNIST test images, PCA to
                              50-D -> data.npy, labels.npy
  tsne DIR METHOD SEED        data.npy -> embedding.npy, kl.npy: TSNE with the
                              defaults, random_state=SEED, n_jobs=2
  trust DIR K...              x.npy, y.npy -> trust.txt (the values, in text):
                              sklearn.manifold.trustworthiness for each K;
                              checks first that the value does not depend on
                              the order of the rows (ties broken either way)
  knn DIR K                   y.npy, labels.npy -> accuracy.npy: leave-one-out
                              KNeighborsClassifier(K) vote (ties: smallest label)
"""
import gzip
import sys

import numpy as np
from scipy.sparse import csr_matrix
from scipy.spatial.distance import squareform
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, _t_sne, _utils, trustworthiness
from sklearn.neighbors import NearestNeighbors


def load(folder, name):
    return np.load(f"{folder}/{name}.npy")


def save(folder, name, array):
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 0:
        array = array.reshape(1, 1)
    np.save(f"{folder}/{name}.npy", np.ascontiguousarray(array))


def joint_nn(folder, perplexity):
    data = load(folder, "data")
    n = data.shape[0]
    k = min(n - 1, int(3.0 * perplexity + 1))
    graph = NearestNeighbors(n_neighbors=k).fit(data).kneighbors_graph(mode="distance")
    graph.data **= 2
    p = _t_sne._joint_probabilities_nn(graph, perplexity, 0)
    save(folder, "p", p.toarray())


def kl(folder, dof, angle=None):
    p = load(folder, "p").astype(np.float64)
    y = load(folder, "y")
    n, d = y.shape
    if angle is None:
        error, grad = _t_sne._kl_divergence(y.ravel().copy(), squareform(p, checks=False), dof, n, d)
    else:
        error, grad = _t_sne._kl_divergence_bh(y.ravel().copy(), csr_matrix(p.astype(np.float32)), dof, n, d,
                                               angle=angle)
    save(folder, "kl", error)
    save(folder, "grad", grad.reshape(n, d))


def idx_images(path):
    with gzip.open(path) as f:
        raw = f.read()
    count, rows, cols = (int.from_bytes(raw[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(count, rows * cols)


def idx_labels(path):
    with gzip.open(path) as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=8)


def fashion(folder, n):
    root = "/usr/share/datasets/fashion-mnist"
    pixels = idx_images(f"{root}/t10k-images-idx3-ubyte.gz")[:n].astype(np.float32) / 255.0
    labels = idx_labels(f"{root}/t10k-labels-idx1-ubyte.gz")[:n]
    save(folder, "data", PCA(n_components=50, random_state=0).fit_transform(pixels))
    save(folder, "labels", labels.reshape(-1, 1))


def run_tsne(folder, method, seed):
    model = TSNE(method=method, random_state=seed, n_jobs=2)
    save(folder, "embedding", model.fit_transform(load(folder, "data")))
    save(folder, "kl", model.kl_divergence_)


def trust(folder, ks):
    x = load(folder, "x").astype(np.float64)
    y = load(folder, "y").astype(np.float64)
    values = [trustworthiness(x, y, n_neighbors=k) for k in ks]
    order = np.random.default_rng(0).permutation(len(x))
    permuted = [trustworthiness(x[order], y[order], n_neighbors=k) for k in ks]
    assert np.allclose(values, permuted, rtol=0, atol=1e-12), "the case depends on how ties are broken"
    with open(f"{folder}/trust.txt", "w") as out:  # text: float32 .npy would lose the digits compared
        out.write(" ".join(repr(float(v)) for v in values))


def knn(folder, k):
    y = load(folder, "y")
    labels = load(folder, "labels").ravel().astype(np.int64)
    ids = NearestNeighbors(n_neighbors=k).fit(y).kneighbors(return_distance=False)
    votes = np.array([np.bincount(labels[row], minlength=labels.max() + 1) for row in ids])
    save(folder, "accuracy", np.mean(votes.argmax(axis=1) == labels))


def main():
    command, folder, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if command == "perplexity":
        save(folder, "conditional", _utils._binary_search_perplexity(load(folder, "sqdist"), float(args[0]), 0))
    elif command == "joint_nn":
        joint_nn(folder, float(args[0]))
    elif command == "joint_exact":
        data = load(folder, "data").astype(np.float64)
        distances = ((data[:, None, :] - data[None, :, :]) ** 2).sum(-1)
        save(folder, "p", squareform(_t_sne._joint_probabilities(distances, float(args[0]), 0)))
    elif command == "kl":
        kl(folder, int(args[0]))
    elif command == "kl_bh":
        kl(folder, int(args[0]), float(args[1]))
    elif command == "fashion":
        fashion(folder, int(args[0]))
    elif command == "tsne":
        run_tsne(folder, args[0], int(args[1]))
    elif command == "trust":
        trust(folder, [int(k) for k in args])
    elif command == "knn":
        knn(folder, int(args[0]))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
