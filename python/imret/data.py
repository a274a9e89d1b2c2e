"""imret's folders as arrays."""
from collections import namedtuple

from . import _imret

Embeddings = namedtuple("Embeddings", ["embeddings", "labels", "items", "meta"])
Embeddings.__doc__ = """An embedding folder: embeddings (N x D float32), labels (N int64),
items (the records of items.jsonl: index, source, label, class) and meta (meta.json)."""


def load_embeddings(folder):
    """Reads an embedding folder that `imret embed` wrote: an Embeddings
    (embeddings, labels, items, meta). FileNotFoundError for a missing folder,
    imret.FormatError naming the file for a malformed one."""
    return Embeddings(*_imret.data.load_embeddings(str(folder)))


__all__ = ["Embeddings", "load_embeddings"]
