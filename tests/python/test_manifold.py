"""imret.manifold: scikit-learn's estimator conventions, and quality equal to
sklearn's and umap-learn's (trustworthiness within 0.01) on the same data."""
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA as SkPCA
from sklearn.manifold import TSNE as SkTSNE
from sklearn.manifold import trustworthiness as sk_trustworthiness
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

import imret
from imret.manifold import PCA, TSNE, UMAP


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:500].astype(np.float32), y[:500]


def test_estimator_conventions():
    for estimator in (TSNE(perplexity=10, random_state=3), UMAP(n_neighbors=8), PCA(3)):
        copy = clone(estimator)
        assert copy.get_params() == estimator.get_params()
        with pytest.raises(Exception):
            check_is_fitted(copy)
        with pytest.raises(ValueError, match="not a parameter"):
            copy.set_params(perplexityy=3)
    assert TSNE().get_params()["learning_rate"] == SkTSNE().get_params()["learning_rate"]
    sk_names = set(SkTSNE().get_params())
    assert set(TSNE().get_params()) <= sk_names | {"n_iter"}


def test_tsne_and_umap_end_a_pipeline(digits):
    X, _ = digits
    for estimator in (TSNE(perplexity=10, n_iter=250, random_state=0), UMAP(n_neighbors=10, n_epochs=50, random_state=0)):
        pipeline = Pipeline([("scale", StandardScaler()), ("map", clone(estimator))])
        Y = pipeline.fit_transform(X[:200])
        assert Y.shape == (200, 2) and np.isfinite(Y).all()
        check_is_fitted(pipeline.named_steps["map"])
        # The same seed gives the same map.
        again = Pipeline([("scale", StandardScaler()), ("map", clone(estimator))]).fit_transform(X[:200])
        np.testing.assert_array_equal(Y, again)


def test_tsne_quality_equals_sklearn(digits):
    X, _ = digits
    ours = TSNE(random_state=0).fit(X)
    check_is_fitted(ours)
    theirs = SkTSNE(random_state=0, init="pca", learning_rate="auto").fit_transform(X)
    t_ours = sk_trustworthiness(X, ours.embedding_, n_neighbors=5)
    t_theirs = sk_trustworthiness(X, theirs, n_neighbors=5)
    assert ours.embedding_.shape == (500, 2)
    assert t_ours >= t_theirs - 0.01, (t_ours, t_theirs)
    # Equal to sklearn's on data without tied distances (digits has many: their order is unspecified).
    noisy = X + np.random.default_rng(0).normal(scale=1e-3, size=X.shape).astype(np.float32)
    assert imret.manifold.trustworthiness(noisy, ours.embedding_, n_neighbors=5) == pytest.approx(
        sk_trustworthiness(noisy, ours.embedding_, n_neighbors=5), abs=1e-12)


def test_umap_quality_equals_umap_learn(digits):
    import umap
    X, _ = digits
    ours = UMAP(random_state=0).fit_transform(X)
    theirs = umap.UMAP(random_state=0).fit_transform(X)
    t_ours = sk_trustworthiness(X, ours, n_neighbors=5)
    t_theirs = sk_trustworthiness(X, theirs, n_neighbors=5)
    assert t_ours >= t_theirs - 0.01, (t_ours, t_theirs)


def test_pca_equals_sklearn_in_a_pipeline(digits):
    X, _ = digits
    pipeline = Pipeline([("scale", StandardScaler()), ("pca", PCA(5))])
    ours = pipeline.fit_transform(X)
    reference = Pipeline([("scale", StandardScaler()), ("pca", SkPCA(5))]).fit_transform(X)
    np.testing.assert_allclose(ours, reference, atol=1e-3)
    np.testing.assert_allclose(pipeline.named_steps["pca"].transform(StandardScaler().fit_transform(X)), reference,
                               atol=1e-3)


def test_bad_parameters_name_themselves(digits):
    X, _ = digits
    with pytest.raises(ValueError, match="perplexity"):
        TSNE(perplexity=1000).fit(X[:50])
    with pytest.raises(ValueError, match="n_neighbors"):
        UMAP(n_neighbors=1).fit(X)
    with pytest.raises(ValueError, match="random_state"):
        TSNE(random_state="seed").fit(X)
    with pytest.raises(ValueError, match="NaN"):
        PCA(2).fit(np.full((5, 3), np.nan))
