#!/usr/bin/python3
"""Re-ranking over FAISS backends (a build with FAISS only): FAISS's Flat index
gives the same shortlists as exact search, so the same re-ranked results for
k-reciprocal, diffusion (its graph found through the FAISS index) and DBA +
alpha-QE; an HNSW index's approximate shortlists give close ones. Data and
helpers: test_rerank.py."""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_rerank  # noqa: E402


class RerankOverFaiss(test_rerank.RerankParity):
    def test_any_backend(self):
        """FAISS's Flat index gives the same shortlists, so the same re-ranked results; HNSW runs too."""
        for rerank in ("kreciprocal:k1=7,k2=3", "diffusion:k=8,kq=5", "dba:k=3+aqe:k=2"):
            with self.subTest(rerank=rerank):
                exact, _ = self.search("cosine", rerank, 20, 40)
                flat, _ = self.search("cosine", rerank, 20, 40, index="faiss:Flat")
                np.testing.assert_array_equal(flat, exact)
                hnsw, _ = self.search("cosine", rerank, 20, 40, index="faiss:HNSW16")
                self.assertEqual(hnsw.shape, exact.shape)
                self.assertGreater(np.mean([len(set(a) & set(b)) for a, b in zip(hnsw, exact)]), 15)


    # The parent's tests run in test_rerank.py.
    test_k_reciprocal_equals_the_authors_definition = None
    test_diffusion_equals_the_exact_solve = None
    test_query_expansion_and_database_augmentation = None
    test_saved_index_with_database_augmentation = None


if __name__ == "__main__":
    unittest.main(verbosity=2)
