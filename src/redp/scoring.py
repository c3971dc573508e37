"""Stage 1: private, record-local risk scores.

A scorer spends its budget once, in ``fit``, to release a DP summary ``theta`` of
the data; ``score`` then computes each record's risk from ``(theta, x_i)`` alone.
Because ``theta`` is DP and the score is record-local, removing record j
changes no other record's score: this is what keeps the per-record analysis of
stage 2 valid. ``reference_scores_`` are the scores of theta's own points (used
to pick the public threshold ``tau``); they are post-processing of theta.

Larger score = more outlying. The non-private :func:`knn_outlierness` is the
evaluation oracle (it reads the private data and is *not* DP).

Examples
--------
>>> import numpy as np, redp
>>> from redp.scoring import GaussianScorer
>>> schema = redp.Schema({"x": redp.Continuous(0, 1), "y": redp.Continuous(0, 1)})
>>> g = np.random.default_rng(0)
>>> data = {"x": g.uniform(0.4, 0.6, 500), "y": g.uniform(0.4, 0.6, 500)}
>>> scorer = GaussianScorer(schema).fit(data, rho=1.0, rng=0)
>>> s = scorer.score({"x": np.array([0.5, 0.99]), "y": np.array([0.5, 0.01])})
>>> bool(s[1] > s[0])
True
"""

from __future__ import annotations

import numpy as np

from . import mechanisms
from ._validation import as_generator, check_int, check_rho
from .errors import NotFittedError

__all__ = ["ReferenceKNNScorer", "HistogramDensityScorer", "GaussianScorer", "knn_outlierness", "SCORERS"]


def _sampling_generator(rng) -> np.random.Generator:
    """Non-noise randomness (sampling theta's points): never the DP noise stream."""
    if isinstance(rng, str):  # "secure": noise from the OS; sampling may use any generator
        return np.random.default_rng()
    return as_generator(rng)


def _spawn(rng, n: int):
    """Independent child streams for the noise and the sampling of one scorer."""
    if isinstance(rng, str) or rng is None:
        return [rng] * n
    return as_generator(rng).spawn(n)


def _encoded_norm_bound(schema) -> float:
    """Largest L2 norm of an encoded record: 1 per continuous column, 1/sqrt(2) per categorical one-hot."""
    from .schema import Categorical

    return float(np.sqrt(sum(0.5 if isinstance(c, Categorical) else 1.0 for c in schema.columns.values())))

#: Smallest threshold :meth:`tau` returns (a public constant, far below any real distance).
TAU_FLOOR = 1e-12


class _Scorer:
    reference_scores_: np.ndarray
    rho: float

    def _check_fitted(self):
        if not hasattr(self, "reference_scores_"):
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet. Call 'fit' with the data first.")

    def _table(self, X):
        table, _ = self.schema.validate(X)
        return table

    def tau(self, quantile: float) -> float:
        """Public threshold: the ``quantile`` of the reference scores (post-processing of theta).

        The quantile is taken over theta's own points, never over the private data.
        It is floored at the public constant :data:`TAU_FLOOR` (> 0): when most
        reference points coincide the quantile is 0, and the weight maps need
        ``tau > 0`` (records at distance 0 keep weight 1, the others get the
        limit weight).
        """
        self._check_fitted()
        return max(float(np.quantile(self.reference_scores_, quantile)), TAU_FLOOR)


class ReferenceKNNScorer(_Scorer):
    r"""Nearest-neighbour influence approximation against a DP reference sample.

    ``theta`` is a reference sample ``R`` of ``n_reference`` points drawn from a
    uniform-weight DP synthesizer fitted with the whole stage-1 budget. The
    score of ``x`` is its mean Euclidean distance (encoded space) to its ``k``
    nearest points of ``R``. Local density is about ``k / (n r_k^d)``, and a
    record's leave-one-out influence on a density model grows as it falls.

    Parameters
    ----------
    schema : redp.Schema
    k : int, default 5
    n_reference : int, default 5000
        Public size of the reference sample.
    synthesizer : Synthesizer, optional
        Stage-1 synthesizer; default ``MarginalSynthesizer()``.

    Examples
    --------
    >>> import numpy as np, redp
    >>> schema = redp.Schema({"x": redp.Continuous(0, 1), "c": redp.Categorical(["a", "b"])})
    >>> g = np.random.default_rng(1)
    >>> data = {"x": g.uniform(0, 0.3, 2000), "c": g.choice(["a", "b"], 2000)}
    >>> sc = ReferenceKNNScorer(schema, n_reference=500).fit(data, rho=1.0, rng=0)
    >>> s = sc.score({"x": np.array([0.1, 0.95]), "c": np.array(["a", "a"])})
    >>> bool(s[1] > s[0])
    True
    """

    def __init__(self, schema, *, k: int = 5, n_reference: int = 5000, synthesizer=None, backend: str = "auto"):
        self.schema = schema
        self.k = check_int(k, "k", "ReferenceKNNScorer", low=1)
        self.n_reference = check_int(n_reference, "n_reference", "ReferenceKNNScorer", low=self.k + 1)
        self.synthesizer = synthesizer
        self.backend = backend

    def fit(self, X, rho: float, rng=None) -> "ReferenceKNNScorer":
        """Spend ``rho`` (zCDP) on the reference synthesizer and sample ``R``."""
        from .synth import MarginalSynthesizer

        rho = check_rho(rho, "ReferenceKNNScorer.fit")
        table = self._table(X)
        synth = self.synthesizer if self.synthesizer is not None else MarginalSynthesizer()
        return self._fit_reference(synth, rho, rng, lambda noise: synth.fit(table, self.schema, None, rho=rho, rng=noise))

    def fit_statistics(self, stats, *, rho: float, rng=None, synthesizer) -> "ReferenceKNNScorer":
        """Like :meth:`fit`, from the additive statistics of a chunked or distributed pass.

        ``synthesizer.fit_from_statistics(stats, ...)`` replaces ``synthesizer.fit(table, ...)``;
        the streams and their order are the same, so both give identical scores.
        """
        rho = check_rho(rho, "ReferenceKNNScorer.fit_statistics")
        return self._fit_reference(synthesizer, rho, rng,
                                   lambda noise: synthesizer.fit_from_statistics(stats, self.schema, rho=rho, rng=noise))

    def _fit_reference(self, synth, rho, rng, fit_synth) -> "ReferenceKNNScorer":
        from .neighbors import knn

        mechanisms.resolve_rng(rng)
        noise_rng, sample_rng = _spawn(rng, 2)
        fit_synth(noise_rng)
        reference = self.schema.encode_distance(synth.sample(self.n_reference, rng=_sampling_generator(sample_rng)))
        dist, _ = knn(reference, None, k=self.k, backend=self.backend)
        self.synthesizer_ = synth
        self.reference_ = reference
        self.reference_scores_ = dist.mean(axis=1, dtype=np.float64)
        self.rho = rho
        return self

    def score(self, X) -> np.ndarray:
        """Mean distance from each record to its ``k`` nearest reference points."""
        from .neighbors import knn

        self._check_fitted()
        queries = self.schema.encode_distance(self._table(X))
        dist, _ = knn(queries, self.reference_, k=self.k, backend=self.backend)
        return dist.mean(axis=1, dtype=np.float64)


class HistogramDensityScorer(_Scorer):
    r"""Surprisal under a noisy joint histogram over the public bins.

    ``theta`` is the Gaussian-noised count of every cell of the joint domain
    (sensitivity 1 under add/remove). The score of a record in cell ``j`` is

    .. math:: s = \log\frac{\hat N + C}{\max(\hat c_j, 0) + 1},

    with ``C`` cells and ``\hat N`` the clipped noisy total. Refuses joint domains
    larger than ``max_cells`` before spending anything.

    Examples
    --------
    >>> import numpy as np, redp
    >>> schema = redp.Schema({"c": redp.Categorical(["a", "b", "z"])})
    >>> data = {"c": np.array(["a"] * 500 + ["b"] * 500 + ["z"] * 3)}
    >>> sc = HistogramDensityScorer(schema).fit(data, rho=2.0, rng=0)
    >>> s = sc.score({"c": np.array(["a", "z"])})
    >>> bool(s[1] > s[0])
    True
    """

    def __init__(self, schema, *, max_cells: int = 1_000_000):
        self.schema = schema
        self.max_cells = check_int(max_cells, "max_cells", "HistogramDensityScorer", low=1)

    def _cell_index(self, table) -> np.ndarray:
        codes = self.schema.encode_marginal(table).astype(np.int64)
        index = np.zeros(codes.shape[0], dtype=np.int64)
        for j, card in enumerate(self.schema.cardinalities):
            index = index * int(card) + codes[:, j]
        return index

    def fit(self, X, rho: float, rng=None) -> "HistogramDensityScorer":
        """Release the noisy joint histogram with zCDP ``rho``."""
        from .errors import DomainTooLargeError

        rho = check_rho(rho, "HistogramDensityScorer.fit")
        cells = int(np.prod([int(c) for c in self.schema.cardinalities], dtype=object))
        if cells > self.max_cells:
            raise DomainTooLargeError(
                f"The joint histogram over columns {list(self.schema.names)} has {cells} cells, more than "
                f"max_cells={self.max_cells}. Use fewer/coarser bins or ReferenceKNNScorer."
            )
        table = self._table(X)
        mechanisms.resolve_rng(rng)
        counts = np.bincount(self._cell_index(table), minlength=cells).astype(np.float64)
        sigma = np.sqrt(1.0 / (2.0 * rho))
        noisy = np.maximum(counts + mechanisms.gaussian_noise(cells, sigma, rng), 0.0)
        total = noisy.sum()
        self.cell_scores_ = np.log((total + cells) / (noisy + 1.0))
        self.noisy_counts_ = noisy
        order = np.argsort(self.cell_scores_, kind="stable")
        self._sorted_scores = self.cell_scores_[order]
        self._cum_mass = np.cumsum(noisy[order]) / max(total, 1e-300)
        self.reference_scores_ = self.cell_scores_
        self.rho = rho
        return self

    def tau(self, quantile: float) -> float:
        """Quantile of the score distribution implied by the noisy counts."""
        self._check_fitted()
        i = int(np.searchsorted(self._cum_mass, quantile, side="left"))
        return max(float(self._sorted_scores[min(i, len(self._sorted_scores) - 1)]), TAU_FLOOR)

    def score(self, X) -> np.ndarray:
        """Surprisal of each record's cell under the noisy histogram."""
        self._check_fitted()
        return self.cell_scores_[self._cell_index(self._table(X))]


class GaussianScorer(_Scorer):
    r"""Mahalanobis distance under a DP mean and covariance of the encoded records.

    Every encoded record has L2 norm at most ``B`` (continuous columns in
    ``[0, 1]``, one-hot scaled by ``1/sqrt(2)``), so the count, the sum and the
    sum of outer products have add/remove sensitivities ``1``, ``B`` and ``B^2``.
    The budget is split in three equal parts; the covariance is symmetrised and
    its eigenvalues floored at ``ridge``.

    Examples
    --------
    >>> import numpy as np, redp
    >>> schema = redp.Schema({"x": redp.Continuous(-1, 1)})
    >>> g = np.random.default_rng(0)
    >>> sc = GaussianScorer(schema).fit({"x": g.normal(0, 0.1, 1000)}, rho=1.0, rng=0)
    >>> s = sc.score({"x": np.array([0.0, 0.9])})
    >>> bool(s[1] > 3 * s[0])
    True
    """

    def __init__(self, schema, *, ridge: float = 1e-3, n_reference: int = 5000):
        self.schema = schema
        self.ridge = float(ridge)
        self.n_reference = check_int(n_reference, "n_reference", "GaussianScorer", low=2)

    def fit(self, X, rho: float, rng=None) -> "GaussianScorer":
        """Release the noisy count, sum and second moment with zCDP ``rho``."""
        from .accounting import Budget

        rho = check_rho(rho, "GaussianScorer.fit")
        table = self._table(X)
        mechanisms.resolve_rng(rng)
        noise_rng, sample_rng = _spawn(rng, 2)
        Z = self.schema.encode_distance(table).astype(np.float64)
        d = Z.shape[1]
        bound = _encoded_norm_bound(self.schema)
        parts = Budget(rho=rho).split([1 / 3, 1 / 3, 1 / 3])
        sig = [np.sqrt(1.0 / (2.0 * p)) for p in parts]
        n_hat = max(Z.shape[0] + float(mechanisms.gaussian_noise((), sig[0], noise_rng)), 1.0)
        total = Z.sum(axis=0) + mechanisms.gaussian_noise(d, bound * sig[1], noise_rng)
        noise = mechanisms.gaussian_noise((d, d), bound**2 * sig[2], noise_rng)
        second = Z.T @ Z + (noise + noise.T) / np.sqrt(2.0)
        mean = total / n_hat
        cov = second / n_hat - np.outer(mean, mean)
        vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
        vals = np.maximum(vals, self.ridge)
        self.mean_ = mean
        self.precision_ = (vecs / vals) @ vecs.T
        g = _sampling_generator(sample_rng)
        ref = mean + (g.standard_normal((self.n_reference, d)) * np.sqrt(vals)) @ vecs.T
        self.reference_scores_ = self._mahalanobis(ref)
        self.rho = rho
        return self

    def _mahalanobis(self, Z: np.ndarray) -> np.ndarray:
        diff = Z - self.mean_
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", diff, self.precision_, diff), 0.0))

    def score(self, X) -> np.ndarray:
        """Mahalanobis distance of each encoded record to the DP Gaussian."""
        self._check_fitted()
        return self._mahalanobis(self.schema.encode_distance(self._table(X)).astype(np.float64))


def knn_outlierness(X, k: int = 5, *, schema=None, backend: str = "auto") -> np.ndarray:
    """Non-private oracle outlierness: mean distance to the ``k`` nearest other records.

    Reads the private data directly; its output is **not** differentially
    private. Used to define outlierness deciles in audits.

    Parameters
    ----------
    X : array_like (n, d) or a table accepted by ``schema.validate``
    k : int, default 5
    schema : redp.Schema, optional
        When given, ``X`` is validated and encoded for distances first.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0]], dtype=np.float32)
    >>> int(np.argmax(knn_outlierness(X, k=1)))
    3
    """
    from .neighbors import knn

    if schema is not None:
        table, _ = schema.validate(X)
        X = schema.encode_distance(table)
    dist, _ = knn(X, None, k=k, backend=backend)
    return dist.mean(axis=1, dtype=np.float64)


SCORERS = {"reference_knn": ReferenceKNNScorer, "histogram": HistogramDensityScorer, "gaussian": GaussianScorer}
