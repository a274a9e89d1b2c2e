"""t-SNE, UMAP and PCA in C++, as scikit-learn estimators.

TSNE takes sklearn.manifold.TSNE's parameters (scikit-learn 1.2, the same
defaults), UMAP umap.UMAP's (umap-learn 0.5), PCA sklearn.decomposition.PCA's
n_components. They follow scikit-learn's conventions: parameters are set in
__init__ and read back by get_params/set_params (so sklearn.base.clone and
Pipeline work), fit returns self, fitted attributes end in "_" (so
check_is_fitted works), and random_state is an int, None or a
numpy.random.RandomState.
"""
import inspect
import numbers

import numpy as np

from . import _imret

__all__ = ["PCA", "TSNE", "UMAP", "trustworthiness"]


class _Estimator:
    """get_params / set_params / repr from the signature of __init__, as scikit-learn's BaseEstimator."""

    @classmethod
    def _param_names(cls):
        signature = inspect.signature(cls.__init__)
        return sorted(p.name for p in signature.parameters.values() if p.name != "self")

    def get_params(self, deep=True):
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        valid = self._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{name}: not a parameter of {type(self).__name__} (parameters: {', '.join(valid)})")
            setattr(self, name, value)
        return self

    def __repr__(self):
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if defaults.get(k) is not v and defaults.get(k) != v]
        return f"{type(self).__name__}({', '.join(changed)})"

    def fit_transform(self, X, y=None):
        return self.fit(X, y)._fitted_output()


def _seed(random_state):
    """An int seed from random_state (None: a fresh one, as scikit-learn draws)."""
    if random_state is None:
        return int(np.random.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, numbers.Integral):
        if random_state < 0:
            raise ValueError(f"random_state: must be >= 0, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(f"random_state: expected None, an int or a numpy.random.RandomState, got {random_state!r}")


def _matrix(X, name="X"):
    """X as a 2-D float array (float32 and float64 arrays pass through untouched)."""
    if isinstance(X, np.ndarray) and X.dtype in (np.float32, np.float64):
        return X
    try:
        return np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name}: expected a 2-D array of numbers ({e})") from None


class TSNE(_Estimator):
    """t-SNE as sklearn.manifold.TSNE (scikit-learn 1.2's defaults and algorithm).

    Fitted attributes: embedding_, kl_divergence_, n_iter_, n_features_in_,
    learning_rate_. metric: "euclidean" only (sklearn's default); n_jobs is
    accepted and ignored (imret uses all cores)."""

    def __init__(self, n_components=2, *, perplexity=30.0, early_exaggeration=12.0, learning_rate="auto",
                 n_iter=1000, n_iter_without_progress=300, min_grad_norm=1e-7, metric="euclidean", init="pca",
                 verbose=0, random_state=None, method="barnes_hut", angle=0.5, n_jobs=None):
        self.n_components = n_components
        self.perplexity = perplexity
        self.early_exaggeration = early_exaggeration
        self.learning_rate = learning_rate
        self.n_iter = n_iter
        self.n_iter_without_progress = n_iter_without_progress
        self.min_grad_norm = min_grad_norm
        self.metric = metric
        self.init = init
        self.verbose = verbose
        self.random_state = random_state
        self.method = method
        self.angle = angle
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        X = _matrix(X)
        if self.metric != "euclidean":
            raise ValueError(f"metric: {self.metric!r} is not supported (imret's t-SNE is Euclidean, as sklearn's default)")
        if isinstance(self.init, np.ndarray) or self.init not in ("pca", "random"):
            raise ValueError(f"init: expected 'pca' or 'random', got {self.init!r}")
        if self.learning_rate == "auto":
            rate = 0.0
        elif isinstance(self.learning_rate, numbers.Real) and self.learning_rate > 0:
            rate = float(self.learning_rate)
        else:
            raise ValueError(f"learning_rate: expected 'auto' or a positive number, got {self.learning_rate!r}")
        embedding, kl, iterations = _imret.manifold.tsne(
            X, int(self.n_components), float(self.perplexity), float(self.early_exaggeration), rate,
            int(self.n_iter), int(self.n_iter_without_progress), float(self.min_grad_norm), str(self.method),
            float(self.angle), str(self.init), _seed(self.random_state), bool(self.verbose))
        self.embedding_ = embedding
        self.kl_divergence_ = kl
        self.n_iter_ = iterations - 1
        self.n_features_in_ = X.shape[1]
        self.learning_rate_ = max(X.shape[0] / self.early_exaggeration / 4, 50) if rate == 0.0 else rate
        return self

    def _fitted_output(self):
        return self.embedding_


class UMAP(_Estimator):
    """UMAP as umap.UMAP (umap-learn 0.5's defaults and algorithm).

    Fitted attributes: embedding_, a_, b_ (the fitted curve), n_epochs_,
    n_features_in_. metric: "euclidean" or "cosine"."""

    def __init__(self, n_neighbors=15, n_components=2, metric="euclidean", n_epochs=None, learning_rate=1.0,
                 init="spectral", min_dist=0.1, spread=1.0, set_op_mix_ratio=1.0, local_connectivity=1.0,
                 repulsion_strength=1.0, negative_sample_rate=5, random_state=None, verbose=False):
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.metric = metric
        self.n_epochs = n_epochs
        self.learning_rate = learning_rate
        self.init = init
        self.min_dist = min_dist
        self.spread = spread
        self.set_op_mix_ratio = set_op_mix_ratio
        self.local_connectivity = local_connectivity
        self.repulsion_strength = repulsion_strength
        self.negative_sample_rate = negative_sample_rate
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None):
        X = _matrix(X)
        if isinstance(self.init, np.ndarray) or self.init not in ("spectral", "random"):
            raise ValueError(f"init: expected 'spectral' or 'random', got {self.init!r}")
        embedding, a, b, epochs = _imret.manifold.umap(
            X, int(self.n_neighbors), int(self.n_components), str(self.metric),
            0 if self.n_epochs is None else int(self.n_epochs), float(self.learning_rate), str(self.init),
            float(self.min_dist), float(self.spread), float(self.set_op_mix_ratio), float(self.local_connectivity),
            float(self.repulsion_strength), int(self.negative_sample_rate), _seed(self.random_state),
            bool(self.verbose))
        self.embedding_ = embedding
        self.a_, self.b_ = a, b
        self.n_epochs_ = epochs
        self.n_features_in_ = X.shape[1]
        return self

    def _fitted_output(self):
        return self.embedding_


class PCA(_Estimator):
    """Principal component analysis as sklearn.decomposition.PCA (full SVD,
    svd_flip signs). Fitted attributes: components_, mean_,
    explained_variance_, explained_variance_ratio_, n_components_,
    n_features_in_."""

    def __init__(self, n_components=None):
        self.n_components = n_components

    def fit(self, X, y=None):
        self._fit(X)
        return self

    def _fit(self, X):
        X = _matrix(X)
        if X.ndim != 2:
            raise ValueError(f"X: expected a 2-D array, got {X.ndim} dimensions")
        k = min(X.shape) if self.n_components is None else self.n_components
        if not isinstance(k, numbers.Integral):
            raise ValueError(f"n_components: expected an int or None, got {k!r}")
        projected, components, mean, variance, ratio = _imret.manifold.pca(X, int(k))
        self.components_ = components
        self.mean_ = mean
        self.explained_variance_ = variance
        self.explained_variance_ratio_ = ratio
        self.n_components_ = int(k)
        self.n_features_in_ = X.shape[1]
        return projected

    def fit_transform(self, X, y=None):
        return self._fit(X)

    def transform(self, X):
        if not hasattr(self, "components_"):
            raise ValueError("This PCA instance is not fitted yet: call fit first")
        X = _matrix(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X: expected {self.n_features_in_} features, got shape {X.shape}")
        return ((X - self.mean_) @ self.components_.T).astype(np.float32)

    def inverse_transform(self, X):
        return np.asarray(X) @ self.components_ + self.mean_


def trustworthiness(X, X_embedded, *, n_neighbors=5, metric="euclidean"):
    """sklearn.manifold.trustworthiness: how well X_embedded keeps the
    neighbours each point has in X (1 = all kept). Euclidean only."""
    if metric != "euclidean":
        raise ValueError(f"metric: {metric!r} is not supported (euclidean only)")
    return _imret.manifold.trustworthiness(_matrix(X), _matrix(X_embedded, "X_embedded"), int(n_neighbors))
