"""imret.data, zero-copy inputs and outputs, and the package's surface."""
import json

import numpy as np
import pytest

import imret


def test_load_embeddings_reads_what_imret_embed_wrote(tmp_path):
    folder = tmp_path / "emb"
    folder.mkdir()
    vectors = np.arange(12, dtype=np.float32).reshape(4, 3)
    np.save(folder / "embeddings.npy", vectors)
    with open(folder / "items.jsonl", "w") as f:
        for i in range(4):
            f.write(json.dumps({"index": i, "source": f"img{i}.png", "label": i % 2, "class": "ab"[i % 2]}) + "\n")
    (folder / "meta.json").write_text(json.dumps({"classes": ["a", "b"]}))
    loaded = imret.data.load_embeddings(folder)
    np.testing.assert_array_equal(loaded.embeddings, vectors)
    assert loaded.labels.tolist() == [0, 1, 0, 1]
    assert loaded.items[3] == {"index": 3, "source": "img3.png", "label": 1, "class": "b"}
    assert loaded.meta["classes"] == ["a", "b"]
    with open(folder / "items.jsonl", "a") as f:
        f.write("{broken\n")
    with pytest.raises(imret.FormatError, match="items.jsonl"):
        imret.data.load_embeddings(folder)
    with pytest.raises(FileNotFoundError):
        imret.data.load_embeddings(tmp_path / "none")


def test_contiguous_inputs_are_not_copied():
    # imret reads a C-contiguous float array where it lies; other layouts are copied once.
    for dtype in (np.float32, np.float64):
        x = np.ones((1000, 64), dtype)
        assert imret._imret._viewed_address(x) == x.ctypes.data
        view = x[100:200]  # a contiguous slice: still the caller's memory
        assert imret._imret._viewed_address(view) == view.ctypes.data
    strided = np.ones((64, 1000), np.float32).T
    assert imret._imret._viewed_address(strided) != strided.ctypes.data


def test_outputs_own_imret_memory_without_a_copy():
    index = imret.search.Index("exact")
    index.add(np.random.default_rng(1).normal(size=(100, 8)).astype(np.float32))
    D, I = index.search(np.zeros((3, 8), np.float32), 4)
    # Arrays that view imret's tensors: not owners of their data, kept alive by a capsule.
    assert not D.flags.owndata and D.base is not None
    assert I.dtype == np.int64 and D.dtype == np.float32


def test_the_package_surface():
    assert imret.__version__
    for module in ("metrics", "search", "manifold", "weights", "data"):
        assert getattr(imret, module).__doc__
    assert "sklearn.metrics.average_precision_score" in imret.metrics.average_precision.__doc__


def test_threads_are_every_core_unless_set():
    import os
    assert imret.get_num_threads() == os.cpu_count()
    try:
        assert imret.set_num_threads(1) == 1 and imret.get_num_threads() == 1
        with pytest.raises(ValueError, match="threads"):
            imret.set_num_threads(-1)
    finally:
        imret.set_num_threads(0)
    assert imret.get_num_threads() == os.cpu_count()
