"""Nearest-neighbour search with FAISS's interface: Index(spec, metric).

    index = imret.search.Index("faiss:HNSW32", metric="cosine")
    index.add(db)                       # N x d float32/float64
    D, I = index.search(queries, 10)    # as FAISS: squared L2 distances or cosine similarities
    index.save("my-index"); imret.search.Index.load("my-index")
"""
from ._imret.search import Index

__all__ = ["Index"]
