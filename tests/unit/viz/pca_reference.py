#!/usr/bin/python3
"""Reference for pca_test.cpp: scikit-learn's PCA on DIR/data.npy.

Usage: pca_reference.py DIR K. Writes DIR/projected.npy (N x K),
DIR/components.npy (K x D) and DIR/ratio.npy (1 x K, explained variance ratio)
and DIR/variance.npy (1 x K), all float32.
"""
import sys

import numpy as np
from sklearn.decomposition import PCA


def main():
    folder, k = sys.argv[1], int(sys.argv[2])
    data = np.load(f"{folder}/data.npy").astype(np.float64)
    pca = PCA(n_components=k, svd_solver="full").fit(data)
    np.save(f"{folder}/projected.npy", np.ascontiguousarray(pca.transform(data), dtype=np.float32))
    np.save(f"{folder}/components.npy", np.ascontiguousarray(pca.components_, dtype=np.float32))
    np.save(f"{folder}/ratio.npy", np.ascontiguousarray(pca.explained_variance_ratio_[None, :], dtype=np.float32))
    np.save(f"{folder}/variance.npy", np.ascontiguousarray(pca.explained_variance_[None, :], dtype=np.float32))


if __name__ == "__main__":
    main()
