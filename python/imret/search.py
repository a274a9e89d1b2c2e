"""Nearest-neighbour search with FAISS's interface: Index(spec, metric).

    index = imret.search.Index("faiss:HNSW32", metric="cosine")
    index.add(db)                       # N x d float32/float64
    D, I = index.search(queries, 10)    # as FAISS: squared L2 distances or cosine similarities
    index.save("my-index"); imret.search.Index.load("my-index")
    D, I = index.search(queries, 10, rerank="aqe:k=2")          # re-ranked (docs/rerank.md)
    index.add(imret.search.augment(db, "dba:k=5"))               # database-side augmentation
"""
from ._imret.search import Index, augment

__all__ = ["Index", "augment"]
