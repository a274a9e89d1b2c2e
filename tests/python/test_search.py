"""imret.search.Index against FAISS's Python module on the same data."""
import faiss
import numpy as np
import pytest

import imret


@pytest.fixture
def data(rng):
    return rng.normal(size=(2000, 32)).astype(np.float32), rng.normal(size=(50, 32)).astype(np.float32)


@pytest.mark.parametrize("spec", ["exact", "faiss:Flat"])
def test_euclidean_equals_faiss_flat_l2(data, spec):
    db, q = data
    reference = faiss.IndexFlatL2(32)
    reference.add(db)
    D_ref, I_ref = reference.search(q, 10)
    index = imret.search.Index(spec, metric="l2")
    index.add(db)
    D, I = index.search(q, 10)
    assert index.ntotal == 2000 and index.d == 32 and len(index) == 2000
    np.testing.assert_array_equal(I, I_ref)
    np.testing.assert_allclose(D, D_ref, rtol=1e-4, atol=1e-3)


def test_cosine_equals_faiss_inner_product_on_normalised_vectors(data):
    db, q = data
    reference = faiss.IndexFlatIP(32)
    dbn, qn = db.copy(), q.copy()
    faiss.normalize_L2(dbn)
    faiss.normalize_L2(qn)
    reference.add(dbn)
    D_ref, I_ref = reference.search(qn, 7)
    index = imret.search.Index("exact", metric="cosine")
    index.add(db.astype(np.float64))
    D, I = index.search(q, 7)
    np.testing.assert_array_equal(I, I_ref)
    np.testing.assert_allclose(D, D_ref, atol=1e-5)


def test_hnsw_and_range_search_and_padding(data):
    db, q = data
    index = imret.search.Index("faiss:HNSW32", metric="euclidean")
    index.add(db)
    exact = faiss.IndexFlatL2(32)
    exact.add(db)
    _, I_ref = exact.search(q, 5)
    _, I = index.search(q, 5, params={"efSearch": 256})
    assert (I == I_ref).mean() > 0.95
    radius = float(np.median(exact.search(q, 20)[0][:, 10]))
    lims_ref, D_ref, I_ref = exact.range_search(q, radius)
    flat = imret.search.Index("exact")
    flat.add(db)
    lims, D, I = flat.range_search(q, radius)
    np.testing.assert_array_equal(lims, lims_ref)
    for i in range(len(q)):
        a, b = lims[i], lims[i + 1]
        assert sorted(I[a:b].tolist()) == sorted(I_ref[a:b].tolist())
    small = imret.search.Index("exact")
    small.add(db[:3])
    D, I = small.search(q[:2], 5)
    assert I[:, 3:].tolist() == [[-1, -1], [-1, -1]] and np.isinf(D[:, 3:]).all()


def test_remove_ids_save_and_load(tmp_path, data):
    db, q = data
    index = imret.search.Index("faiss:Flat")
    index.add(db)
    assert index.remove_ids(np.array([0, 5, 1999])) == 3
    reference = faiss.IndexFlatL2(32)
    reference.add(db)
    reference.remove_ids(np.array([0, 5, 1999], dtype=np.int64))
    np.testing.assert_array_equal(index.search(q, 5)[1], reference.search(q, 5)[1])
    np.testing.assert_allclose(index.reconstruct(4), db[6])
    index.save(str(tmp_path / "idx"))
    loaded = imret.search.Index.load(str(tmp_path / "idx"))
    assert loaded.ntotal == 1997 and loaded.spec == "faiss:Flat"
    np.testing.assert_array_equal(loaded.search(q, 5)[1], index.search(q, 5)[1])
    hnsw = imret.search.Index("faiss:HNSW16")
    hnsw.add(db)
    with pytest.raises(ValueError, match="cannot remove"):
        hnsw.remove_ids([1])


def test_bad_input(tmp_path, data):
    db, q = data
    index = imret.search.Index("exact")
    with pytest.raises(ValueError, match="empty"):
        index.search(q, 3)
    index.add(db)
    with pytest.raises(ValueError, match="31 dimensions, the index has 32"):
        index.search(q[:, :31], 3)
    with pytest.raises(ValueError, match="k: must be >= 1"):
        index.search(q, 0)
    with pytest.raises(ValueError, match="NaN"):
        index.add(np.full((2, 32), np.nan, np.float32))
    with pytest.raises(ValueError, match="exact"):
        imret.search.Index("annoy")
    with pytest.raises(ValueError, match="nprobe"):
        index.search(q, 3, params={"nprobe": 4})
    with pytest.raises(FileNotFoundError, match="no-such"):
        imret.search.Index.load(str(tmp_path / "no-such"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "manifest.json").write_text("{not json")
    with pytest.raises(imret.FormatError, match="manifest.json"):
        imret.search.Index.load(str(tmp_path / "broken"))


def test_rerank_aqe_is_a_second_faiss_search_from_the_expanded_query(data):
    db, q = data
    reference = faiss.IndexFlatL2(32)
    reference.add(db)
    _, first = reference.search(q, 3)
    unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
    weights = np.maximum(np.einsum("qkd,qd->qk", unit(db[first]), unit(q)), 0) ** 2
    expanded = (q + (weights[:, :, None] * db[first]).sum(1)) / (1 + weights.sum(1, keepdims=True))
    _, I_ref = reference.search(expanded.astype(np.float32), 10)
    index = imret.search.Index("exact")
    index.add(db)
    D, I = index.search(q, 10, rerank="aqe:k=3,alpha=2")
    np.testing.assert_array_equal(I, I_ref)
    # D stays each item's squared distance to the query given, not to the expanded one.
    np.testing.assert_allclose(D, ((db[I] - q[:, None, :]) ** 2).sum(-1), rtol=1e-4, atol=1e-3)
    # lambda = 1 keeps the ranking; diffusion's graph is made on first use and after changes.
    _, I_plain = index.search(q, 10)
    _, I_same = index.search(q, 10, rerank="kreciprocal:k1=5,k2=2,lambda=1", rerank_depth=30)
    np.testing.assert_array_equal(I_same, I_plain)
    _, I_diffused = index.search(q, 10, rerank="diffusion:k=5", rerank_depth=30)
    assert I_diffused.shape == (50, 10) and not np.array_equal(I_diffused, I_plain)
    index.add(db[:5])
    _, I_after = index.search(q, 10, rerank="diffusion:k=5", rerank_depth=30)
    assert I_after.shape == (50, 10)


def test_rerank_dba_is_applied_before_the_index(data):
    db, q = data
    index = imret.search.Index("exact", metric="cosine")
    index.add(db)
    with pytest.raises(ValueError, match=r"imret.search.augment\(x, \"dba:k=3,alpha=3\"\)"):
        index.search(q, 5, rerank="dba:k=3")
    with pytest.raises(ValueError, match="unknown re-ranking 'nope'"):
        index.search(q, 5, rerank="nope")
    augmented = imret.search.augment(db, "dba:k=3,alpha=1", metric="cosine")
    unit = db / np.linalg.norm(db, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)
    nearest = np.argsort(-similarity, axis=1)[:, :3]
    weights = np.maximum(np.take_along_axis(similarity, nearest, 1), 0)
    expected = (unit + (weights[:, :, None] * unit[nearest]).sum(1)) / (1 + weights.sum(1, keepdims=True))
    np.testing.assert_allclose(augmented, expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="acts at search time"):
        imret.search.augment(db, "aqe")
