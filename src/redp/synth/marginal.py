r"""Weighted MST-style marginal synthesizer (McKenna, Miklau & Sheldon 2021).

``fit`` spends ``rho`` (zCDP) in three parts, each rounded down so that the
parts never exceed the whole:

1. **1-way marginals** (``one_way_fraction`` of ``rho``): every column's
   *weighted* histogram (record ``i`` adds ``w_i`` to its cell) plus Gaussian
   noise. A record touches one cell per column, so the batch has L2
   sensitivity :math:`w_i \sqrt{d}` and noise :math:`\sigma_1 = \sqrt{d / (2
   \rho_1)}`. Levels whose noisy count falls below ``3 sigma_1`` are merged
   into one cell per column (post-processing, as in MST).
2. **Selection** (``selection_fraction``): a maximum spanning tree over column
   pairs, Kruskal style: ``d - 1`` rounds, each choosing among the pairs that
   join two components with the exponential mechanism
   (:func:`redp.mechanisms.gumbel_max`, epsilon per round
   :math:`\sqrt{8 \rho_s / (d-1)}`, i.e. :math:`\epsilon^2/8` zCDP each). The
   score of a pair is the L1 distance between its weighted 2-way table and the
   independence table implied by the noisy 1-ways; a record of weight ``w``
   moves it by at most ``w`` (sensitivity 1).
3. **2-way marginals** (the rest) of the ``d - 1`` tree edges, weighted, plus
   noise :math:`\sigma_2 = \sqrt{(d - 1) / (2 \rho_2)}`.

Every part scales with :math:`w_i^2` in zCDP, so record ``i``'s loss is
exactly ``w_i**2 * rho`` (:meth:`MarginalSynthesizer.privacy_map`). The noisy
tables are then made consistent (non-negative, one total, shared 1-way
margins) and rows are drawn by ancestral sampling along the tree.

``noise="discrete"`` quantises the weights **up** to the public grid
``1/256`` (so weighted counts times 256 are integers) and adds exact discrete
Gaussian noise; ``privacy_map`` then reports the quantised weights.

Examples
--------
>>> import numpy as np
>>> from redp.schema import Schema, Continuous, Categorical
>>> from redp.synth.marginal import MarginalSynthesizer
>>> schema = Schema({"age": Continuous(0, 100, bins=10), "smoker": Categorical(["no", "yes"]),
...                  "sick": Categorical(["no", "yes"])})
>>> g = np.random.default_rng(0)
>>> smoker = g.random(2000) < 0.3
>>> data = {"age": g.uniform(20, 80, 2000), "smoker": np.where(smoker, "yes", "no"),
...         "sick": np.where(smoker ^ (g.random(2000) < 0.1), "yes", "no")}
>>> model = MarginalSynthesizer().fit(data, schema, rho=1.0, rng=0)
>>> synthetic = model.sample(1000, rng=1)
>>> sorted(synthetic), len(synthetic["age"])
(['age', 'sick', 'smoker'], 1000)
>>> bool(np.mean(synthetic["smoker"] == synthetic["sick"]) > 0.8)  # the tree kept the link
True
>>> model.privacy_map(np.array([1.0, 0.5]))
array([1.  , 0.25])
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from .._kernels.ancestral import sample_tree
from .._kernels.histogram import weighted_bincount, weighted_bincount2
from .._validation import as_generator, check_int, check_real, check_rho
from ..errors import DomainTooLargeError, InputTypeError, NotFittedError
from ..schema import Schema
from .base import Measurement
from .tree import estimate_total, fit_one_way, fit_pair, kruskal_select, tree_layout

__all__ = ["MarginalSynthesizer", "budget_split"]

GRID = 256  # public weight grid of the discrete-noise path


def _down(x: float) -> float:
    return float(np.nextafter(x, 0.0)) if x > 0 else 0.0


def _up(x: float) -> float:
    return float(np.nextafter(x, np.inf))


def budget_split(rho: float, n_cols: int, one_way_fraction: float, selection_fraction: float):
    """Split ``rho`` into (1-way, selection, 2-way) parts that never exceed ``rho``.

    With one column everything goes to the 1-way marginal; with two the single
    edge needs no selection and its share moves to the 2-way marginal. Each
    part is rounded down.

    >>> r1, rs, r2 = budget_split(0.3, 5, 1 / 3, 1 / 3)
    >>> r1 + rs + r2 <= 0.3, round(r1, 12), round(rs, 12), round(r2, 12)
    (True, 0.1, 0.1, 0.1)
    >>> budget_split(1.0, 1, 1 / 3, 1 / 3)[1:]
    (0.0, 0.0)
    """
    if n_cols == 1:
        r1, rs = _down(rho), 0.0
    elif n_cols == 2:
        r1, rs = _down(rho * one_way_fraction / (1.0 - selection_fraction)), 0.0
    else:
        r1, rs = _down(rho * one_way_fraction), _down(rho * selection_fraction)
    r2 = _down(rho - r1 - rs) if n_cols > 1 else 0.0
    while r1 + rs + r2 > rho:  # guard against rounding of the sum itself
        r2 = _down(r2)
    return r1, rs, r2


def _check_weights(weights, n: int, func: str) -> np.ndarray:
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = np.asarray(weights)
    if w.dtype.kind not in "iuf" or w.dtype.kind == "c":
        raise InputTypeError(f"The 'weights' parameter of {func} must be a real array. Got dtype {w.dtype} instead.")
    w = np.ascontiguousarray(w, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"The 'weights' parameter of {func} must have shape ({n},). Got {w.shape} instead.")
    bad = ~(np.isfinite(w) & (w >= 0.0) & (w <= 1.0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"The 'weights' parameter of {func} must hold finite values in [0, 1]. Got {w[i].item()!r} at row {i} instead."
        )
    return w


def _noise_rng(rng):
    """One generator for all noise draws of a fit ("secure" passes through)."""
    if isinstance(rng, str):
        return rng
    return as_generator(rng, "MarginalSynthesizer.fit")


class MarginalSynthesizer:
    """Weighted MST marginal synthesizer (see the module docstring for the math).

    Parameters
    ----------
    noise : {"gaussian", "discrete"}, default "gaussian"
        Continuous Gaussian noise (not floating-point safe) or the exact
        discrete Gaussian on counts scaled by the public weight grid 256.
    max_cells : int, default 1_000_000
        Largest allowed marginal (1-way or candidate 2-way, before compression);
        larger ones raise :class:`~redp.errors.DomainTooLargeError` before any
        noise is drawn.
    selection_fraction, one_way_fraction : float, default 1/3
        Shares of ``rho`` for tree selection and for the 1-way marginals; the
        rest measures the tree's 2-way marginals. Both in (0, 1), sum < 1.
    compress : bool, default True
        Merge levels whose noisy 1-way count is below ``3 sigma_1`` into one
        cell per column, unless fewer than two levels would stay
        (post-processing; shrinks the 2-way tables). Sampled records in the
        merged cell get one of its levels in proportion to their clipped noisy
        counts.

    Attributes
    ----------
    rho : float
        zCDP of ``fit`` at weight 1 (the ``rho`` given to fit).
    measurements : list of Measurement
    edges_ : list of (str, str)
        The selected tree.
    """

    def __init__(self, noise: str = "gaussian", max_cells: int = 1_000_000, selection_fraction: float = 1 / 3,
                 one_way_fraction: float = 1 / 3, compress: bool = True):
        func = "MarginalSynthesizer"
        if noise not in ("gaussian", "discrete"):
            raise ValueError(f"The 'noise' parameter of {func} must be 'gaussian' or 'discrete'. Got {noise!r} instead.")
        self.noise = noise
        self.max_cells = check_int(max_cells, "max_cells", func, low=1)
        self.selection_fraction = check_real(selection_fraction, "selection_fraction", func, low=0, high=1,
                                             low_open=True, high_open=True)
        self.one_way_fraction = check_real(one_way_fraction, "one_way_fraction", func, low=0, high=1,
                                           low_open=True, high_open=True)
        if self.selection_fraction + self.one_way_fraction >= 1.0:
            raise ValueError(
                f"{func} needs selection_fraction + one_way_fraction < 1 (the rest measures the 2-way "
                f"marginals). Got {self.selection_fraction} + {self.one_way_fraction} instead."
            )
        self.compress = bool(compress)
        self.rho = None
        self.measurements = []

    def __repr__(self):
        return (f"MarginalSynthesizer(noise={self.noise!r}, max_cells={self.max_cells}, "
                f"selection_fraction={self.selection_fraction:.4g}, one_way_fraction={self.one_way_fraction:.4g})")

    # -- public -------------------------------------------------------------

    def check_domain(self, schema: Schema) -> None:
        """Raise :class:`~redp.errors.DomainTooLargeError` if any candidate marginal exceeds ``max_cells``.

        Uses only the public schema; ``fit`` calls it before touching the data.

        >>> from redp.schema import Schema, Categorical
        >>> s = Schema({"a": Categorical(list(range(2000))), "b": Categorical(list(range(2000)))})
        >>> MarginalSynthesizer().check_domain(s)
        Traceback (most recent call last):
        ...
        redp.errors.DomainTooLargeError: The 2-way marginal over columns ('a', 'b') has 4000000 cells, ...
        """
        card = schema.cardinalities
        for name, c in zip(schema.names, card):
            if c > self.max_cells:
                raise DomainTooLargeError(
                    f"The 1-way marginal of column '{name}' has {c} cells, more than max_cells={self.max_cells}. "
                    f"Use fewer bins or levels, or raise max_cells."
                )
        if len(card) > 1:
            a, b = max(itertools.combinations(range(len(card)), 2), key=lambda p: card[p[0]] * card[p[1]])
            cells = card[a] * card[b]
            if cells > self.max_cells:
                raise DomainTooLargeError(
                    f"The 2-way marginal over columns ({schema.names[a]!r}, {schema.names[b]!r}) has {cells} cells, "
                    f"more than max_cells={self.max_cells}. Use fewer bins or levels, or raise max_cells."
                )

    def privacy_map(self, weights) -> np.ndarray:
        """Per-record zCDP of the fit: ``w_i**2 * rho`` (quantised weights for ``noise="discrete"``).

        >>> m = MarginalSynthesizer(noise="discrete"); m.rho = 2.0
        >>> m.privacy_map([1.0, 0.5, 0.25])
        array([2.   , 0.5  , 0.125])
        """
        if self.rho is None:
            raise NotFittedError("MarginalSynthesizer.privacy_map needs the rho of fit; call fit first.")
        w = np.asarray(weights, dtype=np.float64)
        w = _check_weights(w.ravel(), w.size, "MarginalSynthesizer.privacy_map").reshape(w.shape)
        if self.noise == "discrete":
            w = self.quantize_weights(w)
        return w * w * self.rho

    @staticmethod
    def quantize_weights(weights) -> np.ndarray:
        """Weights rounded UP to the public grid ``1/256`` (the discrete-noise path).

        >>> MarginalSynthesizer.quantize_weights(np.array([1.0, 0.2, 0.0]))
        array([1.      , 0.203125, 0.      ])
        """
        return np.ceil(np.asarray(weights, dtype=np.float64) * GRID) / GRID

    def fit(self, table, schema: Schema, weights=None, *, rho: float, rng) -> "MarginalSynthesizer":
        """Measure weighted marginals with zCDP ``rho`` and build the tree model.

        Parameters
        ----------
        table : dict of arrays, DataFrame or 2-D array
            Validated with ``schema`` (out-of-bounds values are clamped).
        schema : Schema
        weights : array of float in [0, 1], optional
            Per-record weights (default all 1).
        rho : float
            zCDP budget at weight 1; spent exactly (parts round down).
        rng : numpy Generator, int, None or "secure"
            Source of the DP noise (passed to :mod:`redp.mechanisms`).

        Returns
        -------
        self
        """
        from .. import mechanisms

        func = "MarginalSynthesizer.fit"
        if not isinstance(schema, Schema):
            raise InputTypeError(f"The 'schema' parameter of {func} must be a redp Schema. Got {type(schema).__name__} instead.")
        rho = check_rho(rho, func)
        self.check_domain(schema)  # before anything touches the data or the noise
        table, _ = schema.validate(table)
        codes = schema.encode_marginal(table)
        n, d = codes.shape
        w = _check_weights(weights, n, func)
        if self.noise == "discrete":
            w = self.quantize_weights(w)
        codes_t = np.ascontiguousarray(codes.T)  # one contiguous row per column
        del codes
        card = [int(c) for c in schema.cardinalities]
        noise_rng = _noise_rng(rng)
        scale = GRID if self.noise == "discrete" else 1
        w_scaled = w * scale  # integers on the discrete path

        def measure(hist, sigma):
            """``hist`` (weighted with ``w_scaled``) + noise of std ``sigma`` in count units."""
            if self.noise == "discrete":
                z = np.asarray(mechanisms.discrete_gaussian(hist.shape, sigma * GRID, noise_rng), dtype=np.float64)
                return (np.rint(hist) + z) / GRID
            return hist + np.asarray(mechanisms.gaussian_noise(hist.shape, sigma, noise_rng), dtype=np.float64)

        r1, rs, r2 = budget_split(rho, d, self.one_way_fraction, self.selection_fraction)
        measurements = []

        # 1. one-way marginals ---------------------------------------------------
        sigma1 = _up(math.sqrt(d / (2.0 * r1)))
        one_way = []
        for j in range(d):
            hist = weighted_bincount(codes_t[j], w_scaled, card[j])
            one_way.append(measure(hist, sigma1))
            measurements.append(Measurement("1-way", (schema.names[j],), sigma1, r1 / d, card[j], math.sqrt(d)))

        # compression of rare levels (post-processing) ---------------------------
        maps, ccard, y1, v1, groups = [], [], [], [], []
        for j in range(d):
            y = one_way[j]
            sup = y >= 3.0 * sigma1 if self.compress else np.ones(card[j], dtype=bool)
            if sup.sum() < 2:  # as in MST: never compress a column below two cells
                sup = np.ones(card[j], dtype=bool)
            n_sup, n_rare = int(sup.sum()), int((~sup).sum())
            m = np.empty(card[j], dtype=np.int32)
            m[sup] = np.arange(n_sup, dtype=np.int32)
            m[~sup] = n_sup
            maps.append(m)
            ccard.append(n_sup + (1 if n_rare else 0))
            rare = np.nonzero(~sup)[0]
            groups.append((rare, np.maximum(y[rare], 0.0)))
            y1.append(np.append(y[sup], y[rare].sum()) if n_rare else y.copy())
            v1.append(np.append(np.full(n_sup, sigma1 ** 2), n_rare * sigma1 ** 2) if n_rare else np.full(n_sup, sigma1 ** 2))
        ccodes = codes_t  # compressed in place (the raw codes are not needed any more)
        for j in range(d):
            ccodes[j] = maps[j][codes_t[j]]

        # 2. selection -------------------------------------------------------------
        pairs = list(itertools.combinations(range(d), 2))
        edges = []
        if d == 2:
            edges = [(0, 1)]
        elif d > 2:
            total0 = estimate_total([y.sum() for y in y1], [v.sum() for v in v1])
            probs = [np.maximum(y, 0.0) / max(np.maximum(y, 0.0).sum(), 1e-300) for y in y1]
            scores = np.empty(len(pairs))
            for k, (a, b) in enumerate(pairs):
                true_ab = weighted_bincount2(ccodes[a], ccodes[b], ccard[a], ccard[b], w)
                scores[k] = np.abs(true_ab - total0 * np.outer(probs[a], probs[b])).sum()
            eps_round = _down(math.sqrt(8.0 * rs / (d - 1)))
            edges = kruskal_select(
                d, pairs, scores,
                lambda s: int(mechanisms.gumbel_max(s, eps_round, 1.0, noise_rng)),
            )
            for a, b in edges:
                measurements.append(Measurement("select", (schema.names[a], schema.names[b]), eps_round,
                                                eps_round ** 2 / 8.0, len(pairs), 1.0))

        # 3. two-way marginals of the tree ----------------------------------------
        two_way = {}
        if edges:
            sigma2 = _up(math.sqrt(len(edges) / (2.0 * r2)))
            for a, b in edges:
                hist = weighted_bincount2(ccodes[a], ccodes[b], ccard[a], ccard[b], w_scaled)
                two_way[(a, b)] = measure(hist.ravel(), sigma2).reshape(ccard[a], ccard[b])
                measurements.append(Measurement("2-way", (schema.names[a], schema.names[b]), sigma2,
                                                r2 / len(edges), ccard[a] * ccard[b], math.sqrt(len(edges))))
        else:
            sigma2 = None
        self._fit_model(d, card, ccard, y1, v1, two_way, sigma2, edges, maps, groups)
        self.schema_ = schema
        self.rho = rho
        self.rho_parts_ = {"one_way": r1, "selection": rs, "two_way": r2}
        self.measurements = measurements
        self.edges_ = [(schema.names[a], schema.names[b]) for a, b in edges]
        self.n_features_ = d
        return self

    # -- post-processing ------------------------------------------------------

    def _fit_model(self, d, card, ccard, y1, v1, two_way, sigma2, edges, maps, groups):
        """Consistent tree model from the noisy tables (post-processing only)."""
        totals, variances = [y.sum() for y in y1], [v.sum() for v in v1]
        for (a, b), t in two_way.items():
            totals.append(t.sum())
            variances.append(t.size * sigma2 ** 2)
        total = estimate_total(totals, variances)
        one = []
        for j in range(d):
            ests, vars_ = [y1[j]], [v1[j]]
            for (a, b), t in two_way.items():
                if a == j:
                    ests.append(t.sum(axis=1))
                    vars_.append(np.full(ccard[j], ccard[b] * sigma2 ** 2))
                elif b == j:
                    ests.append(t.sum(axis=0))
                    vars_.append(np.full(ccard[j], ccard[a] * sigma2 ** 2))
            one.append(fit_one_way(ests, vars_, total))
        order, parent = tree_layout(d, edges)
        offsets, blocks, off = np.zeros(d, dtype=np.int64), [None] * d, 0
        for j in order:
            p = parent[j]
            if p < 0:
                table = one[j][None, :]
            elif (p, j) in two_way:
                table = fit_pair(two_way[(p, j)], one[p], one[j])
            else:
                table = fit_pair(two_way[(j, p)].T, one[p], one[j])
            if p >= 0:  # rows the parent can never take, or that fitted to zero: fall back to the marginal
                empty = table.sum(axis=1) <= 0
                table[empty] = one[j]
            cdf = np.cumsum(table + (table.sum(axis=1, keepdims=True) <= 0), axis=1)
            cdf /= cdf[:, -1:]
            cdf[:, -1] = 1.0
            blocks[j] = cdf.ravel()
        for j in range(d):
            offsets[j] = off
            off += blocks[j].size
        self._order, self._parent = order, parent
        self._card = np.asarray(ccard, dtype=np.int64)
        self._offsets = offsets
        self._cdf = np.concatenate([blocks[j] for j in range(d)])
        self._maps, self._groups = maps, groups
        self.one_way_ = one
        self.total_ = total

    # -- sampling (free) --------------------------------------------------------

    def sample(self, n: int, rng=None) -> dict:
        """Draw ``n`` synthetic records (post-processing: spends no budget).

        The same ``rng`` seed gives the same rows for any thread count.

        Returns
        -------
        dict of str to ndarray
            One array per schema column, decoded by the schema (continuous
            values uniform within their bin).
        """
        if self.rho is None:
            raise NotFittedError("MarginalSynthesizer.sample needs a fitted model; call fit first.")
        n = check_int(n, "n", "MarginalSynthesizer.sample", low=0)
        gen = as_generator(rng, "MarginalSynthesizer.sample")
        seed = int(gen.integers(0, 2 ** 63, dtype=np.int64))
        ccodes = sample_tree(n, self._order, self._parent, self._card, self._offsets, self._cdf, seed)
        codes = np.empty_like(ccodes)
        for j, m in enumerate(self._maps):
            rare, mass = self._groups[j]
            n_sup = int(self._card[j]) - (1 if rare.size else 0)
            inverse = np.nonzero(m < n_sup)[0] if n_sup else np.zeros(0, dtype=np.int64)
            col = ccodes[:, j]
            if rare.size:
                is_rare = col == n_sup
                p = mass / mass.sum() if mass.sum() > 0 else np.full(rare.size, 1.0 / rare.size)
                out = np.empty(n, dtype=np.int32)
                out[~is_rare] = inverse[col[~is_rare]]
                out[is_rare] = rare[gen.choice(rare.size, size=int(is_rare.sum()), p=p)]
                codes[:, j] = out
            else:
                codes[:, j] = inverse[col]
        return self.schema_.decode_marginal(codes, gen)
