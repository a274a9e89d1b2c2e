"""imret: content-based image retrieval in C++, from Python.

    import imret
    imret.metrics.retrieval_metrics(q, q_labels, db, db_labels, metric="cosine")
    imret.manifold.TSNE(n_components=2, random_state=0).fit_transform(X)
    index = imret.search.Index("exact", metric="cosine"); index.add(db); D, I = index.search(q, 10)

Submodules: metrics, search, manifold, weights, data. NumPy arrays in and out;
C-contiguous float32/float64 inputs are not copied; the GIL is released while
imret computes. Errors: ValueError (a bad argument), FileNotFoundError, and
imret.FormatError (a file that is not what it should be), each one line that
names the argument or the file. docs/python.md has the whole API.
"""
from . import _imret
from ._imret import Embedder, FormatError, __version__, get_num_threads, set_num_threads
from . import data, manifold, metrics, search, weights

__all__ = ["Embedder", "FormatError", "data", "get_num_threads", "manifold", "metrics", "search", "set_num_threads",
           "weights", "__version__"]
