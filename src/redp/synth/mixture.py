"""Latent-class mixture synthesizer trained by weighted DP-SGD.

The model: ``K`` latent classes with mixing probabilities ``pi = softmax(a)``;
inside class ``k``, every categorical column ``j`` is categorical with
probabilities ``softmax(L_jk)`` and every continuous column ``d`` (scaled to
``[0, 1]`` by the public schema) is Gaussian ``N(mu_kd, exp(s_kd)^2)``; columns
are independent given the class. The parameters are fitted by minimising the
negative log-likelihood with :class:`~redp.synth.dpsgd.WeightedDPSGD` (Poisson
batches, per-example gradients clipped to ``C`` and multiplied by the record's
weight, Gaussian noise), then Adam or plain SGD on the noisy mean gradient.
Per-example gradients are analytic (:mod:`redp._kernels.mixture`).

Privacy: the noise multiplier is calibrated so that ``prior_rho`` (zCDP spent
before, entering as RDP ``alpha * prior_rho``) plus the subsampled-Gaussian RDP
of all steps converts to at most ``epsilon`` at ``delta``. Initialisation uses
only public information (the ``[0, 1]`` range and the cardinalities) and the
``rng``; sampling is post-processing.
"""

from __future__ import annotations

import math

import numpy as np

from .._kernels.mixture import mixture_loglik, mixture_nll_grad, n_parameters
from .._validation import as_generator, check_int, check_real
from ..mechanisms import resolve_rng
from ..errors import InputTypeError, NotFittedError, PrivacyParameterError, SchemaError
from .dpsgd import WeightedDPSGD, _check_weights, calibrate_noise_multiplier

__all__ = ["MixtureSynthesizer"]

_MIN_STD = 0.01  # floor on the standard deviations (data live on [0, 1])
_MAX_STD = 1.0
_OPTIMIZERS = ("adam", "sgd")


def _as_2d(x, name, n, func, *, kinds, dtype, what, layout):
    """``x`` as a C-contiguous 2-D array of ``dtype``; ``None`` means no columns."""
    if x is None:
        return np.zeros((n if n is not None else 0, 0), dtype=dtype)
    a = np.asarray(x)
    if a.dtype.kind not in kinds:
        raise InputTypeError(f"The '{name}' parameter of {func} must be {what} array. Got dtype {a.dtype} instead.")
    if a.ndim != 2:
        raise ValueError(f"The '{name}' parameter of {func} must be a 2-D array {layout}. Got shape {a.shape} instead.")
    return np.ascontiguousarray(a, dtype=dtype)


def _as_codes(cat_codes, n, func):
    return _as_2d(cat_codes, "cat_codes", n, func, kinds="iub", dtype=np.int64, what="an integer",
                  layout="(n, n_cat)")


def _as_cont(cont, n, func):
    a = _as_2d(cont, "cont", n, func, kinds="iuf", dtype=np.float64, what="a real", layout="(n, n_cont)")
    if a.size and not (np.all(np.isfinite(a)) and a.min() >= 0.0 and a.max() <= 1.0):
        bad = np.argwhere(~(np.isfinite(a) & (a >= 0.0) & (a <= 1.0)))[0]
        raise SchemaError(
            f"The 'cont' parameter of {func} must hold schema-scaled values in [0, 1]. "
            f"Got {float(a[bad[0], bad[1]])!r} at row {bad[0]}, column {bad[1]} instead. "
            "Encode with the schema first (it clamps to the public bounds)."
        )
    return a


class MixtureSynthesizer:
    """Latent-class mixture generator trained by weighted DP-SGD.

    Parameters
    ----------
    n_components : int, default 10
        Number of latent classes ``K``.
    epochs : float, default 20
        Passes over the data in expectation; DP-SGD takes
        ``T = max(1, round(epochs / sample_rate))`` steps.
    sample_rate : float, default 0.02
        Poisson sampling rate ``q``.
    max_grad_norm : float, default 1.0
        Per-example clipping norm ``C``.
    learning_rate : float, default 0.05
        Step size of the optimiser.
    influence : {"scale", "sample"}, default "scale"
        How weights lower a record's influence (see :mod:`redp.synth.dpsgd`).
    optimizer : {"adam", "sgd"}, default "adam"

    Attributes
    ----------
    theta_ : ndarray of float64
        Flat fitted parameters (layout in :mod:`redp._kernels.mixture`).
    noise_multiplier_, steps_, sample_rate, n_public_, prior_rho_
        The DP-SGD schedule that was run (see :attr:`accounting`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> codes = rng.integers(0, 2, size=(400, 1))
    >>> cont = np.clip(0.3 + 0.4 * codes + 0.05 * rng.standard_normal((400, 1)), 0, 1)
    >>> model = MixtureSynthesizer(n_components=2, epochs=5, sample_rate=0.1)
    >>> model = model.fit_arrays(codes, [2], cont, epsilon=3.0, delta=1e-5, rng=0)
    >>> sorted(model.accounting)
    ['influence', 'noise_multiplier', 'q', 'steps']
    >>> c, x = model.sample_arrays(5, rng=1)
    >>> c.shape, x.shape, bool(((x >= 0) & (x <= 1)).all())
    ((5, 1), (5, 1), True)
    """

    is_dpsgd = True

    def __init__(self, n_components=10, epochs=20, sample_rate=0.02, max_grad_norm=1.0,
                 learning_rate=0.05, influence="scale", optimizer="adam"):
        func = "MixtureSynthesizer"
        self.n_components = check_int(n_components, "n_components", func, low=1)
        self.epochs = check_real(epochs, "epochs", func, low=0.0, low_open=True)
        self.sample_rate = check_real(sample_rate, "sample_rate", func, low=0.0, high=1.0,
                                      low_open=True, error=PrivacyParameterError)
        self.max_grad_norm = check_real(max_grad_norm, "max_grad_norm", func, low=0.0,
                                        low_open=True, error=PrivacyParameterError)
        self.learning_rate = check_real(learning_rate, "learning_rate", func, low=0.0, low_open=True)
        if influence not in ("scale", "sample"):
            raise ValueError(
                f"The 'influence' parameter of {func} must be one of ('scale', 'sample'). "
                f"Got {influence!r} instead."
            )
        self.influence = influence
        if optimizer not in _OPTIMIZERS:
            raise ValueError(
                f"The 'optimizer' parameter of {func} must be one of {_OPTIMIZERS}. "
                f"Got {optimizer!r} instead."
            )
        self.optimizer = optimizer

    # -- schedule -------------------------------------------------------------
    @property
    def n_steps(self) -> int:
        """``T = max(1, round(epochs / sample_rate))``, fixed before seeing data."""
        return max(1, int(round(self.epochs / self.sample_rate)))

    def _init_theta(self, cardinalities, n_cont, gen):
        """Data-independent start: uniform categories, means spread over [0, 1]."""
        K = self.n_components
        C = int(np.sum(cardinalities))
        theta = np.zeros(n_parameters(K, cardinalities, n_cont))
        theta[K:K + K * C] = 0.1 * gen.standard_normal(K * C)
        base_mu = K + K * C
        grid = (np.arange(K) + 0.5) / K
        mu = np.empty((K, n_cont))
        for d in range(n_cont):
            mu[:, d] = gen.permutation(grid) + (0.5 / K) * (gen.random(K) - 0.5)
        theta[base_mu:base_mu + K * n_cont] = mu.ravel()
        theta[base_mu + K * n_cont:] = math.log(0.2)
        return theta

    def _project(self, theta, C, n_cont):
        K = self.n_components
        base_mu = K + K * C
        mu = theta[base_mu:base_mu + K * n_cont]
        np.clip(mu, 0.0, 1.0, out=mu)
        ls = theta[base_mu + K * n_cont:]
        np.clip(ls, math.log(_MIN_STD), math.log(_MAX_STD), out=ls)

    # -- fit --------------------------------------------------------------------
    def fit_arrays(self, cat_codes, cardinalities, cont, weights=None, *, epsilon, delta,
                   prior_rho=0.0, n_public=None, rng=None):
        """Fit by weighted DP-SGD on encoded arrays.

        Parameters
        ----------
        cat_codes : array_like of int, shape (n, n_cat), or None
            Level indices, column ``j`` in ``[0, cardinalities[j])``.
        cardinalities : sequence of int, length n_cat
            Public numbers of levels.
        cont : array_like of float, shape (n, n_cont), or None
            Continuous columns scaled to ``[0, 1]`` by the public schema.
        weights : array_like of float, shape (n,), optional
            Per-record weights in ``[0, 1]``; default all ones.
        epsilon, delta : float
            Total target, *including* ``prior_rho``.
        prior_rho : float, default 0.0
            zCDP spent before on the same records (for example private scoring);
            it enters the calibration as RDP ``alpha * prior_rho``.
        n_public : int, optional
            Public dataset size for the expected batch size ``q * n_public``.
            Default ``n``, the number of rows given: only correct when ``n`` is
            itself public (under add/remove-one DP it is not, strictly); pass a
            public size or bound when you have one.
        rng : None, "secure", int, numpy SeedSequence or Generator
            Randomness for initialisation, batches and DP noise. ``None`` /
            ``"secure"`` (default): the OS CSPRNG for noise and batches. A seed
            is reproducible, for tests and research only.

        Returns
        -------
        self
        """
        func = "MixtureSynthesizer.fit_arrays"
        cards = np.asarray(cardinalities if cardinalities is not None else [], dtype=np.int64).reshape(-1)
        codes = _as_codes(cat_codes, None if cont is None else np.shape(cont)[0], func)
        x = _as_cont(cont, codes.shape[0], func)
        n = codes.shape[0]
        if x.shape[0] != n:
            raise ValueError(
                f"Expected cat_codes and cont with the same number of rows, but cat_codes has "
                f"{n} rows and cont has {x.shape[0]}."
            )
        if cards.shape[0] != codes.shape[1]:
            raise SchemaError(
                f"Expected one cardinality per categorical column, but cat_codes has "
                f"{codes.shape[1]} columns and cardinalities has {cards.shape[0]} entries."
            )
        if cards.size and cards.min() < 1:
            raise SchemaError(
                f"The 'cardinalities' parameter of {func} must hold ints >= 1. "
                f"Got {cards.tolist()} instead."
            )
        if codes.shape[1] + x.shape[1] == 0:
            raise ValueError(f"{func} needs at least one categorical or continuous column. Got none.")
        if n == 0:
            raise ValueError(f"{func} needs at least one row. Got 0 rows.")
        if codes.size:
            bad = (codes < 0) | (codes >= cards[None, :])
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise SchemaError(
                    f"Expected categorical codes in [0, {int(cards[c])}) for column {c}, but row {r} "
                    f"has code {int(codes[r, c])}."
                )
        w = _check_weights(weights, n, func)
        n_public = n if n_public is None else check_int(n_public, "n_public", func, low=1)
        steps = self.n_steps
        resolved = resolve_rng(rng, func)
        if isinstance(resolved, str):  # secure noise and batches; public, non-DP init
            dp_rng, init = resolved, np.random.default_rng()
        else:
            dp_rng, init = resolved.spawn(2)
        # Validation is over; calibrate (raises BudgetExceededError before any noise).
        sigma = calibrate_noise_multiplier(epsilon, delta, self.sample_rate, steps, prior_rho)

        dp = WeightedDPSGD(sigma, self.max_grad_norm, self.sample_rate, n_public,
                           influence=self.influence, rng=dp_rng)
        offsets = np.zeros(cards.shape[0] + 1, dtype=np.int64)
        np.cumsum(cards, out=offsets[1:])
        C = int(offsets[-1])
        theta = self._init_theta(cards, x.shape[1], init)
        self._run(dp, theta, codes, offsets, x, w, steps, C)
        self.__dict__.pop("schema_", None)  # a table fit sets it again afterwards

        self.theta_ = theta
        self.cardinalities_ = cards
        self.offsets_ = offsets
        self.n_cont_ = int(x.shape[1])
        self.noise_multiplier_ = float(sigma)
        self.steps_ = int(dp.steps)
        self.n_public_ = int(n_public)
        self.prior_rho_ = float(prior_rho)
        self.epsilon_ = float(epsilon)
        self.delta_ = float(delta)
        self._dpsgd = dp
        return self

    def _run(self, dp, theta, codes, offsets, x, w, steps, C):
        K = self.n_components
        lr = self.learning_rate
        adam = self.optimizer == "adam"
        m = np.zeros_like(theta)
        v = np.zeros_like(theta)
        b1, b2, eps = 0.9, 0.999, 1e-8
        n = codes.shape[0]
        n_cont = x.shape[1]
        batch_w = w if self.influence == "sample" else None
        for t in range(1, steps + 1):
            idx = dp._poisson(n, batch_w, dp._batch_rng)  # inputs validated in fit_arrays
            grads = mixture_nll_grad(theta, codes[idx], offsets, x[idx], K)
            g = dp.step(grads, w[idx])
            if adam:
                m *= b1
                m += (1.0 - b1) * g
                v *= b2
                v += (1.0 - b2) * g * g
                theta -= lr * (m / (1.0 - b1 ** t)) / (np.sqrt(v / (1.0 - b2 ** t)) + eps)
            else:
                theta -= lr * g
            self._project(theta, C, n_cont)

    # -- fitted parameters ----------------------------------------------------------
    def _check_fitted(self, func):
        if not hasattr(self, "theta_"):
            raise NotFittedError(
                f"This MixtureSynthesizer is not fitted yet. Call 'fit_arrays' before '{func}'."
            )

    def _blocks(self):
        K = self.n_components
        C = int(self.offsets_[-1])
        D = self.n_cont_
        th = self.theta_
        a = th[:K]
        pi = np.exp(a - a.max())
        pi /= pi.sum()
        probs = []
        for j in range(self.cardinalities_.shape[0]):
            cj = int(self.cardinalities_[j])
            L = th[K + K * int(self.offsets_[j]):K + K * int(self.offsets_[j + 1])].reshape(K, cj)
            p = np.exp(L - L.max(axis=1, keepdims=True))
            probs.append(p / p.sum(axis=1, keepdims=True))
        base = K + K * C
        mu = th[base:base + K * D].reshape(K, D)
        sd = np.exp(th[base + K * D:].reshape(K, D))
        return pi, probs, mu, sd

    @property
    def mixing_(self):
        """Mixing probabilities ``pi``, shape ``(K,)``."""
        self._check_fitted("mixing_")
        return self._blocks()[0]

    @property
    def category_probs_(self):
        """List of ``(K, c_j)`` level probabilities, one per categorical column."""
        self._check_fitted("category_probs_")
        return self._blocks()[1]

    @property
    def means_(self):
        """Component means on the ``[0, 1]`` scale, shape ``(K, n_cont)``."""
        self._check_fitted("means_")
        return self._blocks()[2]

    @property
    def stds_(self):
        """Component standard deviations, shape ``(K, n_cont)``."""
        self._check_fitted("stds_")
        return self._blocks()[3]

    def log_likelihood(self, cat_codes, cont):
        """Per-row log-likelihood under the fitted model (not DP if rows are private).

        Examples
        --------
        >>> import numpy as np
        >>> m = MixtureSynthesizer(n_components=1, epochs=1, sample_rate=0.5)
        >>> m = m.fit_arrays(None, [], np.full((10, 1), 0.5), epsilon=1.0, delta=1e-5, rng=0)
        >>> m.log_likelihood(None, np.full((2, 1), 0.5)).shape
        (2,)
        """
        func = "MixtureSynthesizer.log_likelihood"
        self._check_fitted("log_likelihood")
        codes = _as_codes(cat_codes, None if cont is None else np.shape(cont)[0], func)
        x = _as_cont(cont, codes.shape[0], func)
        if codes.shape[1] != self.cardinalities_.shape[0] or x.shape[1] != self.n_cont_:
            raise ValueError(
                f"Expected {self.cardinalities_.shape[0]} categorical and {self.n_cont_} "
                f"continuous columns, but got {codes.shape[1]} and {x.shape[1]}."
            )
        if codes.size and ((codes < 0) | (codes >= self.cardinalities_[None, :])).any():
            raise SchemaError(f"{func}: categorical codes out of range for the fitted cardinalities.")
        return mixture_loglik(self.theta_, codes, self.offsets_, x, self.n_components)

    # -- sample ---------------------------------------------------------------
    def sample_arrays(self, n, rng=None):
        """Draw ``n`` synthetic rows (post-processing: spends no budget).

        Returns
        -------
        cat_codes : ndarray of int64, shape (n, n_cat)
        cont : ndarray of float64, shape (n, n_cont)
            Clipped to ``[0, 1]``.
        """
        func = "MixtureSynthesizer.sample_arrays"
        self._check_fitted("sample_arrays")
        n = check_int(n, "n", func, low=0)
        gen = as_generator(rng, func)
        pi, probs, mu, sd = self._blocks()
        K = self.n_components
        z = np.minimum(np.searchsorted(np.cumsum(pi), gen.random(n), side="right"), K - 1)
        codes = np.empty((n, len(probs)), dtype=np.int64)
        order = np.argsort(z, kind="stable")
        bounds = np.searchsorted(z[order], np.arange(K + 1))
        for j, p in enumerate(probs):
            u = gen.random(n)
            cdf = np.cumsum(p, axis=1)
            col = np.empty(n, dtype=np.int64)
            for k in range(K):
                rows = order[bounds[k]:bounds[k + 1]]
                col[rows] = np.searchsorted(cdf[k], u[rows], side="right")
            np.minimum(col, p.shape[1] - 1, out=col)
            codes[:, j] = col
        cont = mu[z] + sd[z] * gen.standard_normal((n, self.n_cont_))
        np.clip(cont, 0.0, 1.0, out=cont)
        return codes, cont

    # -- tables (schema-encoded) -------------------------------------------------
    def fit(self, table, schema, weights=None, *, epsilon, delta, prior_rho=0.0, n_public=None,
            rng=None):
        """Fit on a table: ``schema.encode_mixed`` then :meth:`fit_arrays`.

        Unlike the full-batch synthesizers, DP-SGD is accounted in RDP, so the
        budget is given as the *total* ``(epsilon, delta)`` with ``prior_rho``
        (zCDP already spent, e.g. stage-1 scoring) instead of a zCDP ``rho``.

        Examples
        --------
        >>> import numpy as np
        >>> from redp.schema import Schema, Continuous, Categorical
        >>> schema = Schema({"x": Continuous(0, 10), "c": Categorical(["a", "b"])})
        >>> rng = np.random.default_rng(0)
        >>> table = {"x": rng.uniform(0, 10, 200), "c": rng.choice(["a", "b"], 200)}
        >>> m = MixtureSynthesizer(n_components=2, epochs=2, sample_rate=0.1)
        >>> m = m.fit(table, schema, epsilon=2.0, delta=1e-5, rng=0)
        >>> out = m.sample(3, rng=0)
        >>> sorted(out), len(out["x"])
        (['c', 'x'], 3)
        """
        cat, cont = schema.encode_mixed(table)
        cards = [schema.columns[name].cardinality for name in schema.categorical_names]
        self.fit_arrays(cat, cards, cont, weights, epsilon=epsilon, delta=delta, prior_rho=prior_rho,
                        n_public=n_public, rng=rng)
        self.schema_ = schema
        return self

    def sample(self, n, rng=None) -> dict:
        """Draw ``n`` rows as a table (``schema.decode_mixed`` of :meth:`sample_arrays`)."""
        if not hasattr(self, "schema_"):
            raise NotFittedError(
                "This MixtureSynthesizer was not fitted on a table. Call 'fit' (or use "
                "'sample_arrays' after 'fit_arrays')."
            )
        cat, cont = self.sample_arrays(n, rng)
        return self.schema_.decode_mixed(cat, cont)

    # -- privacy ----------------------------------------------------------------
    @property
    def accounting(self) -> dict:
        """The DP-SGD schedule for the per-record ledger.

        ``dict(q=..., noise_multiplier=..., steps=..., influence=...)``; feed
        ``(q, noise_multiplier, steps)`` to :func:`redp.accounting.per_record_epsilon`
        for ``influence="scale"``, or use :meth:`privacy_map`, which handles both.
        """
        self._check_fitted("accounting")
        return dict(q=self.sample_rate, noise_multiplier=self.noise_multiplier_,
                    steps=self.steps_, influence=self.influence)

    def privacy_map(self, weights, delta, uniform_rho=0.0):
        """Per-record epsilon of the fit for the given weights (curator-only).

        ``uniform_rho`` is zCDP every record spent elsewhere (pass the fit's
        ``prior_rho_`` to get the end-to-end per-record bound); with all weights
        1 and ``uniform_rho = prior_rho_`` this is the calibrated global epsilon
        (``<= epsilon``).

        Examples
        --------
        >>> import numpy as np
        >>> m = MixtureSynthesizer(n_components=1, epochs=1, sample_rate=0.5)
        >>> m = m.fit_arrays(None, [], np.full((10, 1), 0.5), epsilon=1.0, delta=1e-5, rng=0)
        >>> eps = m.privacy_map([1.0, 0.2], 1e-5)
        >>> bool(eps[1] < eps[0] <= 1.0)
        True
        """
        self._check_fitted("privacy_map")
        return self._dpsgd.per_record_epsilon(weights, delta, uniform_rho=uniform_rho)

    def epsilon(self, delta, uniform_rho=0.0):
        """Global epsilon of the fit at ``delta`` (plus ``uniform_rho`` zCDP if given)."""
        self._check_fitted("epsilon")
        return self._dpsgd.epsilon(delta, uniform_rho=uniform_rho)
