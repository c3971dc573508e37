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
from ..errors import DomainTooLargeError, InputTypeError, NotFittedError, PrivacyParameterError
from ..schema import Schema
from .base import Measurement
from .tree import estimate_total, fit_one_way, fit_pair, kruskal_select, tree_layout

__all__ = ["MarginalSynthesizer", "MarginalStatistics", "budget_split"]

GRID = 256  # public weight grid of the discrete-noise path
UNIT_BITS = 26
UNIT = float(1 << UNIT_BITS)  # fixed-point unit of the sufficient statistics: 2**-26 of a record's weight
SAMPLE_BLOCK = 1 << 16  # rows decoded at a time by sample (part of the seed -> rows contract)
_MAX_CHUNK_ROWS = 1 << 26  # per-kernel-call rows: partial sums stay below 2**52 units, exact in float64


def _to_counts(units: np.ndarray) -> np.ndarray:
    """Fixed-point units (int64) -> weighted counts (float64); deterministic (one rounding at most)."""
    return np.asarray(units, dtype=np.float64) / UNIT


def _is_identity(level_map: np.ndarray) -> bool:
    return bool(np.array_equal(level_map, np.arange(level_map.shape[0])))


def _compress(units: np.ndarray, map_a: np.ndarray, map_b: np.ndarray, ca: int, cb: int) -> np.ndarray:
    """Sum the cells of an int64 (card_a, card_b) table into the compressed (ca, cb) levels, exactly."""
    if _is_identity(map_a) and _is_identity(map_b):
        return units  # nothing merged or moved (one rare level keeps the size but moves to the end)
    out = np.zeros((ca, cb), dtype=np.int64)
    np.add.at(out, (map_a[:, None], map_b[None, :]), units)
    return out


class MarginalStatistics:
    """Additive sufficient statistics of the marginal synthesizer: NOT private.

    Weighted 1-way counts of every column and weighted 2-way counts of every
    candidate column pair, held as int64 in fixed-point units of ``2**-26`` of
    a record's weight (:meth:`MarginalSynthesizer.weight_units`). Integer sums
    are associative, so the statistics of a table equal the sum of the
    statistics of any split of it into chunks or partitions, bit for bit; that
    is what lets in-memory, chunked and Dask fits give identical noisy
    measurements for the same seed. Build with
    :meth:`MarginalSynthesizer.statistics`; add with ``+`` or :meth:`sum`.

    Memory: ``8 * (sum of cardinalities + sum over pairs of card_a * card_b)`` bytes.

    Attributes
    ----------
    cardinalities : tuple of int
    noise : str
        The synthesizer noise mode the weights were prepared for.
    n_rows : int
        Rows counted (private; used only to size per-record arrays).
    one_way : list of int64 ndarray
    two_way : dict of (int, int) to int64 ndarray
        Keys ``(a, b)`` with ``a < b``.

    Examples
    --------
    >>> from redp.schema import Schema, Categorical
    >>> s = Schema({"a": Categorical(["x", "y"])})
    >>> st = MarginalSynthesizer().statistics({"a": ["x", "x", "y"]}, s)
    >>> st.counts(0).tolist(), st.n_rows
    ([2.0, 1.0], 3)
    """

    __slots__ = ("cardinalities", "noise", "n_rows", "one_way", "two_way")

    def __init__(self, cardinalities, noise, n_rows, one_way, two_way):
        self.cardinalities = tuple(int(c) for c in cardinalities)
        self.noise = noise
        self.n_rows = int(n_rows)
        self.one_way = list(one_way)
        self.two_way = dict(two_way)

    def __getstate__(self):
        return (self.cardinalities, self.noise, self.n_rows, self.one_way, self.two_way)

    def __setstate__(self, state):
        for k, v in zip(self.__slots__, state):
            object.__setattr__(self, k, v)

    def __repr__(self):
        return (f"MarginalStatistics(cardinalities={self.cardinalities}, noise={self.noise!r}, "
                f"pairs={len(self.two_way)})")

    @classmethod
    def zeros(cls, cardinalities, noise: str) -> "MarginalStatistics":
        """Empty statistics (the identity of ``+``)."""
        card = [int(c) for c in cardinalities]
        pairs = itertools.combinations(range(len(card)), 2)
        return cls(card, noise, 0, [np.zeros(c, dtype=np.int64) for c in card],
                   {(a, b): np.zeros((card[a], card[b]), dtype=np.int64) for a, b in pairs})

    @classmethod
    def from_codes(cls, codes_t: np.ndarray, cardinalities, units, noise: str) -> "MarginalStatistics":
        """Statistics of column-major codes ``codes_t`` (``(d, n)``) with per-row ``units`` (None: weight 1)."""
        card = [int(c) for c in cardinalities]
        d, n = codes_t.shape
        out = cls.zeros(card, noise)
        out.n_rows = n
        for lo in range(0, n, _MAX_CHUNK_ROWS):
            hi = min(n, lo + _MAX_CHUNK_ROWS)
            w = None if units is None else units[lo:hi]
            shift = UNIT_BITS if units is None else 0  # unweighted: count rows, then scale to units
            cols = [codes_t[j, lo:hi] for j in range(d)]
            for j in range(d):
                out.one_way[j] += weighted_bincount(cols[j], w, card[j]).astype(np.int64) << shift
            for (a, b), acc in out.two_way.items():
                acc += weighted_bincount2(cols[a], cols[b], card[a], card[b], w).astype(np.int64) << shift
        return out

    def _check_compatible(self, other):
        if not isinstance(other, MarginalStatistics) or other.cardinalities != self.cardinalities \
                or other.noise != self.noise:
            raise ValueError(f"Cannot add {other!r} to {self!r}: statistics of different schemas or noise modes.")

    def __add__(self, other) -> "MarginalStatistics":
        if isinstance(other, int) and other == 0:  # sum() starts from 0
            return self
        self._check_compatible(other)
        return MarginalStatistics(self.cardinalities, self.noise, self.n_rows + other.n_rows,
                                  [a + b for a, b in zip(self.one_way, other.one_way)],
                                  {k: v + other.two_way[k] for k, v in self.two_way.items()})

    __radd__ = __add__

    def __iadd__(self, other) -> "MarginalStatistics":
        self._check_compatible(other)
        self.n_rows += other.n_rows
        for a, b in zip(self.one_way, other.one_way):
            a += b
        for k, v in self.two_way.items():
            v += other.two_way[k]
        return self

    def __eq__(self, other) -> bool:
        return (isinstance(other, MarginalStatistics) and self.cardinalities == other.cardinalities
                and self.noise == other.noise and self.n_rows == other.n_rows
                and all(np.array_equal(a, b) for a, b in zip(self.one_way, other.one_way))
                and all(np.array_equal(v, other.two_way[k]) for k, v in self.two_way.items()))

    __hash__ = None

    @staticmethod
    def sum(parts) -> "MarginalStatistics":
        """Sum of an iterable of statistics (pairwise, in order)."""
        parts = list(parts)
        if not parts:
            raise ValueError("MarginalStatistics.sum needs at least one part.")
        while len(parts) > 1:  # tree reduction: same result as any order (integer sums)
            parts = [parts[i] + parts[i + 1] if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
        return parts[0]

    def counts(self, j: int) -> np.ndarray:
        """Weighted 1-way counts of column ``j`` (float64)."""
        return _to_counts(self.one_way[j])

    def pair_units(self, a: int, b: int) -> np.ndarray:
        """int64 units of the (a, b) table, shape ``(card_a, card_b)`` (either order)."""
        return self.two_way[(a, b)] if a < b else self.two_way[(b, a)].T

    def pair_counts(self, a: int, b: int) -> np.ndarray:
        """Weighted 2-way counts of columns ``a`` and ``b`` (float64, ``(card_a, card_b)``)."""
        return _to_counts(self.pair_units(a, b))


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
    max_total_cells : int, default 50_000_000
        Largest allowed total of the cells of all candidate 2-way marginals,
        which the sufficient statistics hold at once (8 bytes each; the default
        is 400 MB). Checked with ``max_cells``, before any allocation.
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
                 one_way_fraction: float = 1 / 3, compress: bool = True, max_total_cells: int = 50_000_000):
        func = "MarginalSynthesizer"
        if noise not in ("gaussian", "discrete"):
            raise ValueError(f"The 'noise' parameter of {func} must be 'gaussian' or 'discrete'. Got {noise!r} instead.")
        self.noise = noise
        self.max_cells = check_int(max_cells, "max_cells", func, low=1)
        self.max_total_cells = check_int(max_total_cells, "max_total_cells", func, low=1)
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
        """Raise :class:`~redp.errors.DomainTooLargeError` if any candidate marginal exceeds ``max_cells``
        (or all candidate 2-way marginals together exceed ``max_total_cells``).

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
            total = sum(card[a] * card[b] for a, b in itertools.combinations(range(len(card)), 2))
            if total > self.max_total_cells:
                raise DomainTooLargeError(
                    f"The {len(card) * (len(card) - 1) // 2} candidate 2-way marginals over {len(card)} columns have "
                    f"{total} cells in all, more than max_total_cells={self.max_total_cells} "
                    f"({8 * total / 2**20:.0f} MiB of statistics). Use fewer bins or levels or columns, or raise "
                    f"max_total_cells."
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

    def statistics(self, table, schema: Schema, weights=None, *, validated: bool = False) -> "MarginalStatistics":
        """Additive sufficient statistics of ``table`` (one chunk of the data): NOT private.

        The weighted 1-way counts of every column and the weighted 2-way counts
        of every candidate pair, after the schema's marginal codes, in exact
        fixed-point units (see :class:`MarginalStatistics`). Statistics of
        disjoint chunks add up (``a + b``) to the statistics of their union, bit
        for bit, whatever the chunking or order: in-memory, chunked and Dask
        fits feed :meth:`fit_from_statistics` the same numbers.

        Parameters
        ----------
        table : dict of arrays, DataFrame or 2-D array
            One chunk; validated with ``schema`` unless ``validated=True``.
        schema : Schema
        weights : array of float in [0, 1], optional
            This chunk's per-record weights (default all 1).
        validated : bool, default False
            ``table`` is already the output of ``schema.validate``.

        Returns
        -------
        MarginalStatistics

        Examples
        --------
        >>> from redp.schema import Schema, Categorical
        >>> s = Schema({"a": Categorical(["x", "y"]), "b": Categorical(["u", "v"])})
        >>> m = MarginalSynthesizer()
        >>> one = m.statistics({"a": ["x", "y"], "b": ["u", "u"]}, s, [1.0, 0.5])
        >>> two = m.statistics({"a": ["y"], "b": ["v"]}, s)
        >>> both = one + two
        >>> both.counts(0).tolist(), both.pair_counts(0, 1).tolist()
        ([1.0, 1.5], [[1.0, 0.0], [0.5, 1.0]])
        """
        func = "MarginalSynthesizer.fit"
        if not isinstance(schema, Schema):
            raise InputTypeError(f"The 'schema' parameter of {func} must be a redp Schema. Got {type(schema).__name__} instead.")
        self.check_domain(schema)
        if not validated:
            table, _ = schema.validate(table)
        codes = schema.encode_marginal(table)
        n = codes.shape[0]
        units = None if weights is None else self.weight_units(_check_weights(weights, n, func))
        codes_t = np.ascontiguousarray(codes.T)
        del codes
        return MarginalStatistics.from_codes(codes_t, schema.cardinalities, units, self.noise)

    def weight_units(self, weights) -> np.ndarray:
        """Each record's contribution in fixed-point units of ``2**-26`` (integer-valued float64).

        ``noise="gaussian"`` rounds ``w * 2**26`` *down* (a record never adds
        more than its weight, so ``privacy_map`` stays an upper bound; the
        change is below ``1.5e-8``); ``noise="discrete"`` first quantises up to
        the grid ``1/256`` (exactly representable in units).

        >>> MarginalSynthesizer().weight_units(np.array([1.0, 0.5]))
        array([67108864., 33554432.])
        """
        w = np.asarray(weights, dtype=np.float64)
        if self.noise == "discrete":
            return self.quantize_weights(w) * UNIT
        return np.floor(w * UNIT)

    def fit(self, table, schema: Schema, weights=None, *, rho: float, rng) -> "MarginalSynthesizer":
        """Measure weighted marginals with zCDP ``rho`` and build the tree model.

        Equivalent to ``fit_from_statistics(statistics(table, schema, weights), ...)``.

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
        func = "MarginalSynthesizer.fit"
        if not isinstance(schema, Schema):
            raise InputTypeError(f"The 'schema' parameter of {func} must be a redp Schema. Got {type(schema).__name__} instead.")
        rho = check_rho(rho, func)
        self.check_domain(schema)  # before anything touches the data or the noise
        stats = self.statistics(table, schema, weights)
        return self.fit_from_statistics(stats, schema, rho=rho, rng=rng)

    def fit_from_statistics(self, stats: "MarginalStatistics", schema: Schema, *, rho: float,
                            rng) -> "MarginalSynthesizer":
        """Spend ``rho`` on noisy marginals of ``stats``, select the tree and post-process.

        The only step of a fit that is private: it adds the DP noise (once, from
        ``rng``), runs the private tree selection and builds the consistent
        model. ``stats`` is the sum of :meth:`statistics` over the chunks (or
        partitions) of the data.

        Parameters
        ----------
        stats : MarginalStatistics
            From :meth:`statistics` with this synthesizer's ``noise`` mode.
        schema : Schema
        rho : float
            zCDP budget at weight 1.
        rng : numpy Generator, int, None or "secure"

        Returns
        -------
        self

        Examples
        --------
        >>> from redp.schema import Schema, Categorical
        >>> s = Schema({"a": Categorical(["x", "y"]), "b": Categorical(["u", "v"])})
        >>> m = MarginalSynthesizer()
        >>> parts = [m.statistics({"a": ["x", "y"] * 50, "b": ["u", "v"] * 50}, s) for _ in range(3)]
        >>> m.fit_from_statistics(sum(parts[1:], parts[0]), s, rho=1.0, rng=0).edges_
        [('a', 'b')]
        """
        from .. import mechanisms

        func = "MarginalSynthesizer.fit_from_statistics"
        if not isinstance(schema, Schema):
            raise InputTypeError(f"The 'schema' parameter of {func} must be a redp Schema. Got {type(schema).__name__} instead.")
        rho = check_rho(rho, func)
        self.check_domain(schema)
        card = [int(c) for c in schema.cardinalities]
        if not isinstance(stats, MarginalStatistics):
            raise InputTypeError(f"The 'stats' parameter of {func} must be a MarginalStatistics. Got {type(stats).__name__} instead.")
        if tuple(stats.cardinalities) != tuple(card) or stats.noise != self.noise:
            raise ValueError(
                f"The 'stats' parameter of {func} must come from statistics() with this schema and noise={self.noise!r}. "
                f"Got cardinalities {tuple(stats.cardinalities)} and noise={stats.noise!r} instead."
            )
        d = len(card)
        noise_rng = _noise_rng(rng)

        def measure(hist, sigma):
            """``hist`` (weighted counts) + noise of std ``sigma`` in count units."""
            if self.noise == "discrete":
                z = np.asarray(mechanisms.discrete_gaussian(hist.shape, sigma * GRID, noise_rng), dtype=np.float64)
                return (np.rint(hist * GRID) + z) / GRID
            return hist + np.asarray(mechanisms.gaussian_noise(hist.shape, sigma, noise_rng), dtype=np.float64)

        r1, rs, r2 = budget_split(rho, d, self.one_way_fraction, self.selection_fraction)
        if self.noise == "discrete":
            # The multivariate discrete Gaussian is rho-zCDP up to a term of order
            # d * exp(-pi^2 sigma^2) (Canonne, Kamath, Steinke 2020, Thm 15); at
            # sigma >= 4 grid units it is below 1e-60 and lost in the accountant's
            # upward rounding. Below that we refuse rather than under-report.
            smallest = min(math.sqrt(d / (2.0 * r1)), math.sqrt(max(d - 1, 1) / (2.0 * r2)) if r2 > 0 else math.inf)
            if smallest * GRID < 4.0:
                raise PrivacyParameterError(
                    f"noise='discrete' needs a noise scale of at least 4/{GRID} counts, but rho={rho:g} over {d} "
                    f"columns gives {smallest:.3g}. Use a smaller budget or noise='gaussian'."
                )
        measurements = []

        # 1. one-way marginals ---------------------------------------------------
        sigma1 = _up(math.sqrt(d / (2.0 * r1)))
        one_way = []
        for j in range(d):
            one_way.append(measure(stats.counts(j), sigma1))
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

        def compressed(a, b):
            """Weighted 2-way counts of (a, b) over the compressed levels (exact, then count units)."""
            return _to_counts(_compress(stats.pair_units(a, b), maps[a], maps[b], ccard[a], ccard[b]))

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
                scores[k] = np.abs(compressed(a, b) - total0 * np.outer(probs[a], probs[b])).sum()
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
                hist = compressed(a, b)
                two_way[(a, b)] = measure(hist.ravel(), sigma2).reshape(ccard[a], ccard[b])
                measurements.append(Measurement("2-way", (schema.names[a], schema.names[b]), sigma2,
                                                r2 / len(edges), ccard[a] * ccard[b], math.sqrt(len(edges))))
        else:
            sigma2 = None
        self.noisy_one_way_ = one_way
        self.noisy_two_way_ = {(schema.names[a], schema.names[b]): t for (a, b), t in two_way.items()}
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

        The same ``rng`` seed gives the same rows for any thread count. Rows
        are decoded in blocks of ``SAMPLE_BLOCK`` rows (cache-friendly; the
        memory is one int32 code table plus the output).

        Returns
        -------
        dict of str to ndarray
            One array per schema column, decoded by the schema (continuous
            values uniform within their bin).
        """
        out = None
        for lo, hi, n, block in self.sample_blocks(n, rng):
            if out is None:
                out = {k: np.empty(n, dtype=v.dtype) for k, v in block.items()}
            for k, v in block.items():
                out[k][lo:hi] = v
        return out

    def sample_blocks(self, n: int, rng=None):
        """Draw ``n`` records as consecutive row blocks: yields ``(lo, hi, n, block_dict)``.

        The same rows as :meth:`sample` with the same ``rng``; lets a caller
        write them straight into its own output (a 2-D array, a file) without
        holding two copies.
        """
        if self.rho is None:
            raise NotFittedError("MarginalSynthesizer.sample needs a fitted model; call fit first.")
        n = check_int(n, "n", "MarginalSynthesizer.sample", low=0)
        gen = as_generator(rng, "MarginalSynthesizer.sample")
        seed = int(gen.integers(0, 2 ** 63, dtype=np.int64))
        ccodes = sample_tree(n, self._order, self._parent, self._card, self._offsets, self._cdf, seed)
        plan = []
        for j, m in enumerate(self._maps):
            rare, mass = self._groups[j]
            n_sup = int(self._card[j]) - (1 if rare.size else 0)
            inverse = np.nonzero(m < n_sup)[0] if n_sup else np.zeros(0, dtype=np.int64)
            p = None
            if rare.size:
                p = mass / mass.sum() if mass.sum() > 0 else np.full(rare.size, 1.0 / rare.size)
                inverse = np.append(inverse, -1)  # the merged cell: drawn below
            plan.append((inverse, rare, p, n_sup))
        for lo in range(0, max(n, 1), SAMPLE_BLOCK):
            hi = min(n, lo + SAMPLE_BLOCK)
            codes = np.ascontiguousarray(ccodes[lo:hi].T)  # (d, block): contiguous columns
            for j, (inverse, rare, p, n_sup) in enumerate(plan):
                col = inverse[codes[j]]
                if rare.size:
                    is_rare = codes[j] == n_sup
                    col[is_rare] = rare[gen.choice(rare.size, size=int(is_rare.sum()), p=p)]
                codes[j] = col
            yield lo, hi, n, self.schema_.decode_marginal(codes.T, gen)
