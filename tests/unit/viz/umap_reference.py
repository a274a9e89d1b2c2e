#!/usr/bin/python3
"""Reference values from umap-learn 0.5.3 for tests/unit/viz/umap_test.cpp.

Usage: umap_reference.py COMMAND DIR [ARGS], or umap_reference.py batch
"COMMAND DIR [ARGS]"... to run several in one process (umap-learn takes
seconds to import). Arrays are float32 .npy (a
scalar is written 1 x 1), read from and written to DIR:

  smooth DIR LC           knn_dists.npy (N x k, self first) -> sigmas.npy,
                          rhos.npy: umap_.smooth_knn_dist(k, local_connectivity=LC)
  graph DIR MIX LC        knn_ids.npy, knn_dists.npy -> graph.npy (N x N dense):
                          umap_.fuzzy_simplicial_set on that k-NN input
  ab DIR SPREAD MIN_DIST  -> ab.txt "a b" (text, all digits): umap_.find_ab_params
  epochs DIR N_EPOCHS     weights.npy (1 x E) -> epochs.npy: make_epochs_per_sample
  spectral DIR DIM        graph.npy (N x N symmetric, connected) -> layout.npy
                          (N x DIM): spectral.spectral_layout, and
                          eigenvalues.npy: each column's Rayleigh quotient in the
                          normalised Laplacian
  components DIR DIM      data.npy, labels.npy (N x 1 component ids) ->
                          meta.npy: spectral.component_layout (the place of
                          each component in multi_component_layout)
  fashion DIR N           the first N Fashion-MNIST test images as pixels in
                          [0, 1] -> data.npy, labels.npy
  umap DIR SEED           data.npy -> embedding.npy: UMAP(random_state=SEED)
                          with every other option at its default
"""
import gzip
import os
import sys
import tempfile

os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "imret_umap_reference_numba"))

import numpy as np  # noqa: E402
import scipy.sparse  # noqa: E402


def load(folder, name):
    return np.load(f"{folder}/{name}.npy")


def save(folder, name, array):
    array = np.asarray(array, dtype=np.float32)
    if array.ndim == 0:
        array = array.reshape(1, 1)
    np.save(f"{folder}/{name}.npy", np.ascontiguousarray(array))


def smooth(folder, local_connectivity):
    from umap import umap_

    dists = load(folder, "knn_dists")
    sigmas, rhos = umap_.smooth_knn_dist(dists, float(dists.shape[1]), local_connectivity=local_connectivity)
    save(folder, "sigmas", sigmas)
    save(folder, "rhos", rhos)


def graph(folder, mix, local_connectivity):
    from umap import umap_

    ids = load(folder, "knn_ids").astype(np.int64)
    dists = load(folder, "knn_dists")
    n, k = ids.shape
    result, _, _ = umap_.fuzzy_simplicial_set(
        np.zeros((n, 1), dtype=np.float32), k, None, "euclidean", knn_indices=ids, knn_dists=dists,
        set_op_mix_ratio=mix, local_connectivity=local_connectivity)
    save(folder, "graph", result.toarray())


def ab(folder, spread, min_dist):
    from umap import umap_

    a, b = umap_.find_ab_params(spread, min_dist)
    with open(f"{folder}/ab.txt", "w") as out:
        out.write(f"{float(a)!r} {float(b)!r}")


def epochs(folder, n_epochs):
    from umap import umap_

    weights = load(folder, "weights").reshape(-1)
    save(folder, "epochs", umap_.make_epochs_per_sample(weights, n_epochs).reshape(1, -1))


def spectral(folder, dim):
    from umap import spectral as umap_spectral

    dense = load(folder, "graph").astype(np.float32)
    graph_matrix = scipy.sparse.csr_matrix(dense)
    layout = umap_spectral.spectral_layout(None, graph_matrix, dim, np.random.RandomState(0))
    degree = dense.sum(axis=0).astype(np.float64)
    root = 1.0 / np.sqrt(degree)
    laplacian = np.eye(len(dense)) - root[:, None] * dense * root[None, :]
    values = [float(v @ laplacian @ v / (v @ v)) for v in np.asarray(layout, dtype=np.float64).T]
    save(folder, "layout", layout)
    save(folder, "eigenvalues", np.array(values).reshape(1, -1))


def components(folder, dim):
    from umap import spectral as umap_spectral

    data = load(folder, "data").astype(np.float64)
    labels = load(folder, "labels").reshape(-1).astype(np.int64)
    meta = umap_spectral.component_layout(data, labels.max() + 1, labels, dim, np.random.RandomState(0))
    save(folder, "meta", meta)


def idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def fashion(folder, n):
    root = "/usr/share/datasets/fashion-mnist"
    pixels = idx(f"{root}/t10k-images-idx3-ubyte.gz", 16).reshape(-1, 784)[:n].astype(np.float32) / 255.0
    labels = idx(f"{root}/t10k-labels-idx1-ubyte.gz", 8)[:n]
    save(folder, "data", pixels)
    save(folder, "labels", labels.reshape(-1, 1))


def run_umap(folder, seed):
    import umap

    save(folder, "embedding", umap.UMAP(random_state=seed).fit_transform(load(folder, "data")))


def run(command, folder, args):
    if command == "smooth":
        smooth(folder, float(args[0]))
    elif command == "graph":
        graph(folder, float(args[0]), float(args[1]))
    elif command == "ab":
        ab(folder, float(args[0]), float(args[1]))
    elif command == "epochs":
        epochs(folder, int(args[0]))
    elif command == "spectral":
        spectral(folder, int(args[0]))
    elif command == "components":
        components(folder, int(args[0]))
    elif command == "fashion":
        fashion(folder, int(args[0]))
    elif command == "umap":
        run_umap(folder, int(args[0]))
    else:
        sys.exit(f"unknown command {command}")


def main():
    if sys.argv[1] == "batch":
        for line in sys.argv[2:]:
            words = line.split()
            run(words[0], words[1], words[2:])
    else:
        run(sys.argv[1], sys.argv[2], sys.argv[3:])


if __name__ == "__main__":
    main()
