"""REPS: risk-equalized private synthesis, end to end.

``fit`` is the only place budget is spent, in this order and nowhere else:

1. *Stage 1* (``score_fraction`` of the zCDP budget): a private scorer releases
   ``theta``; every record's risk ``s_i`` is computed from ``(theta, x_i)``.
2. *Weights*: ``w_i = clip((tau / s_i)^gamma, w_min, 1)`` (or another map), with
   ``tau`` a quantile of theta's own reference scores.
3. *Stage 2* (the rest): the synthesizer measures *weighted* statistics with
   noise calibrated to weight 1, so the worst case equals the unweighted
   synthesizer's, while record i's own loss is ``rho_1 + w_i^2 rho_2``.

Every check on the data, the schema and the arguments runs before the first
unit of budget is charged. ``sample`` is post-processing and free.

Examples
--------
>>> import numpy as np, redp
>>> schema = redp.Schema({"x": redp.Continuous(0, 1), "c": redp.Categorical(["a", "b"])})
>>> g = np.random.default_rng(0)
>>> data = {"x": g.uniform(0, 1, 2000), "c": g.choice(["a", "b"], 2000)}
>>> model = redp.REPS(epsilon=3.0, delta=1e-6, schema=schema, rng=0).fit(data)
>>> synthetic = model.sample(100)
>>> sorted(synthetic), len(synthetic["x"])
(['c', 'x'], 100)
>>> report = model.privacy_report()
>>> bool(report.per_record_epsilon.max() <= report.epsilon + 1e-9)
True
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

import numpy as np

from . import mechanisms
from ._validation import as_generator, check_delta, check_epsilon, check_int, check_real
from .errors import InputTypeError, NotFittedError

__all__ = ["REPS", "PrivacyReport"]

_PER_RECORD_NOTE = (
    "Per-record epsilons, weights and scores depend on the private data: they are for the data "
    "curator only and must not be published."
)


@dataclass(frozen=True)
class PrivacyReport:
    """What a fitted :class:`REPS` model spent, globally and per record.

    ``epsilon``/``delta`` and ``rho_*`` describe the release and may be
    published. ``per_record_epsilon``, ``weights``, ``scores`` and
    ``by_decile`` are data-dependent: curator only.
    """

    epsilon: float
    delta: float
    rho_total: float
    rho_scoring: float
    rho_synthesis: float
    ledger: list
    tau: float | None
    per_record_epsilon: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    scores: np.ndarray | None = field(repr=False)
    by_decile: list = field(default_factory=list)
    clamped: dict = field(default_factory=dict)
    note: str = _PER_RECORD_NOTE

    def summary(self) -> str:
        """Human-readable text: the global guarantee, then the per-record spread."""
        lines = [
            f"global guarantee: ({self.epsilon:.4g}, {self.delta:.3g})-DP  "
            f"[rho = {self.rho_total:.4g} zCDP: scoring {self.rho_scoring:.4g} + synthesis "
            + ("by DP-SGD, RDP-accounted]" if np.isnan(self.rho_synthesis) else f"{self.rho_synthesis:.4g}]"),
            f"per-record epsilon: min {self.per_record_epsilon.min():.4g}, "
            f"median {np.median(self.per_record_epsilon):.4g}, max {self.per_record_epsilon.max():.4g}",
        ]
        if self.by_decile:
            lines.append("score decile | mean weight | mean eps_i")
            for row in self.by_decile:
                lines.append(f"  {row['decile']:>2}         | {row['mean_weight']:.3f}       | {row['mean_epsilon']:.4g}")
        if any(self.clamped.values()):
            lines.append(f"values clamped to public bounds: {self.clamped}")
        lines.append(self.note)
        return "\n".join(lines)

    def to_dict(self, per_record: bool = False) -> dict:
        """JSON-ready dict; per-record arrays only when ``per_record=True``."""
        out = {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "rho_total": self.rho_total,
            "rho_scoring": self.rho_scoring,
            "rho_synthesis": self.rho_synthesis,
            "ledger": self.ledger,
            "tau": self.tau,
            "per_record_epsilon_max": float(self.per_record_epsilon.max()),
            "per_record_epsilon_min": float(self.per_record_epsilon.min()),
            "by_decile": self.by_decile,
            "clamped": self.clamped,
            "note": self.note,
        }
        if per_record:
            out["per_record_epsilon"] = self.per_record_epsilon.tolist()
            out["weights"] = self.weights.tolist()
            out["scores"] = None if self.scores is None else self.scores.tolist()
        return out


def _decile_summary(scores, weights, eps) -> list:
    if scores is None or len(scores) < 10:
        return []
    edges = np.quantile(scores, np.linspace(0, 1, 11))
    dec = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, 9)
    rows = []
    for d in range(10):
        m = dec == d
        if m.any():
            rows.append(
                {
                    "decile": d + 1,
                    "n": int(m.sum()),
                    "mean_weight": float(weights[m].mean()),
                    "mean_epsilon": float(eps[m].mean()),
                    "max_epsilon": float(eps[m].max()),
                }
            )
    return rows


class REPS:
    """Risk-equalized private synthesizer: ``fit(data) -> sample(n) -> privacy_report()``.

    Parameters
    ----------
    epsilon, delta : float
        Total budget of the release, ``epsilon > 0``, ``0 < delta < 1``.
    schema : redp.Schema
        Public column specs (bounds, levels, bins).
    synthesizer : {"marginal", "mixture"} or synthesizer instance, default "marginal"
    scorer : {"reference_knn", "histogram", "gaussian"} or scorer instance, default "reference_knn"
    score_fraction : float, default 0.1
        Share of the zCDP budget spent on stage-1 scoring (unused with
        ``weighting="uniform"``, which skips scoring and gives everything to synthesis).
    weighting : {"inverse", "exponential", "sigmoid", "uniform", "random", "equalize"} or callable
        ``callable(scores, tau) -> weights`` in ``[w_min, 1]``.
    w_min : float, default 0.2
        Cap on the extra protection (at most ``1/w_min`` less influence).
    gamma : float, default 1.0
        Exponent of the inverse map.
    tau_quantile : float, default 0.9
        ``tau`` is this quantile of the reference scores: records scoring above it are down-weighted.
    k : int, default 5
        Neighbours in the reference-kNN score.
    n_reference : int, default 5000
        Public size of the stage-1 reference sample.
    noise : {"gaussian", "discrete"}, default "gaussian"
        ``"discrete"`` quantises weights to the 1/256 grid and adds exact discrete Gaussian noise
        to integer counts (the floating-point-safe mode, with ``rng="secure"``).
    rng : None, int, Generator or "secure"
        ``None`` or ``"secure"``: DP noise from the operating system's CSPRNG. An int or Generator
        gives reproducible runs for tests and research (not for production releases).
    strict : bool, default False
        Raise on values outside the public bounds instead of clamping them.

    Examples
    --------
    >>> import numpy as np, redp
    >>> schema = redp.Schema({"x": redp.Continuous(0, 1)})
    >>> data = {"x": np.random.default_rng(0).uniform(size=1000)}
    >>> model = redp.REPS(epsilon=1.0, delta=1e-6, schema=schema, weighting="uniform", rng=0).fit(data)
    >>> bool(np.allclose(model.privacy_report().per_record_epsilon, model.privacy_report().epsilon))
    True
    """

    def __init__(
        self,
        epsilon: float,
        delta: float,
        schema,
        *,
        synthesizer="marginal",
        scorer="reference_knn",
        score_fraction: float = 0.1,
        weighting="inverse",
        w_min: float = 0.2,
        gamma: float = 1.0,
        tau_quantile: float = 0.9,
        k: int = 5,
        n_reference: int = 5000,
        noise: str = "gaussian",
        rng=None,
        strict: bool = False,
    ):
        from .schema import Schema
        from .weights import WEIGHTINGS

        func = "REPS"
        self.epsilon = check_epsilon(epsilon, func)
        self.delta = check_delta(delta, func)
        if self.delta == 0.0:
            from .errors import PrivacyParameterError

            raise PrivacyParameterError(
                "The 'delta' parameter of REPS must be in (0, 1) for zCDP-based synthesis. Got 0.0 instead."
            )
        if not isinstance(schema, Schema):
            raise InputTypeError(f"The 'schema' parameter of REPS must be a redp.Schema. Got {type(schema).__name__} instead.")
        self.schema = schema
        if isinstance(synthesizer, str) and synthesizer not in ("marginal", "mixture"):
            raise ValueError(f"The 'synthesizer' parameter of REPS must be 'marginal', 'mixture' or an instance. Got {synthesizer!r} instead.")
        self.synthesizer = synthesizer
        from .scoring import SCORERS

        if isinstance(scorer, str) and scorer not in SCORERS:
            raise ValueError(f"The 'scorer' parameter of REPS must be one of {sorted(SCORERS)} or an instance. Got {scorer!r} instead.")
        self.scorer = scorer
        self.score_fraction = check_real(score_fraction, "score_fraction", func, low=0.0, high=1.0, low_open=True, high_open=True)
        if not (callable(weighting) or weighting in WEIGHTINGS):
            raise ValueError(f"The 'weighting' parameter of REPS must be one of {list(WEIGHTINGS)} or a callable. Got {weighting!r} instead.")
        self.weighting = weighting
        self.w_min = check_real(w_min, "w_min", func, low=0.0, high=1.0, low_open=True)
        self.gamma = check_real(gamma, "gamma", func, low=0.0, low_open=True)
        self.tau_quantile = check_real(tau_quantile, "tau_quantile", func, low=0.0, high=1.0)
        self.k = check_int(k, "k", func, low=1)
        self.n_reference = check_int(n_reference, "n_reference", func, low=self.k + 1)
        if noise not in ("gaussian", "discrete"):
            raise ValueError(f"The 'noise' parameter of REPS must be 'gaussian' or 'discrete'. Got {noise!r} instead.")
        self.noise = noise
        mechanisms.resolve_rng(rng)
        self.rng = rng
        self.strict = bool(strict)

    # -- randomness ---------------------------------------------------------
    def _streams(self):
        """Independent streams: (stage-1 noise, stage-2 noise, permutation, sampling)."""
        if self.rng is None or isinstance(self.rng, str):
            return "secure", "secure", np.random.default_rng(), np.random.default_rng()
        children = as_generator(self.rng, "REPS").spawn(4)
        return children[0], children[1], children[2], children[3]

    def _make_scorer(self):
        from .scoring import SCORERS, ReferenceKNNScorer

        if not isinstance(self.scorer, str):
            return self.scorer
        if self.scorer == "reference_knn":
            return ReferenceKNNScorer(self.schema, k=self.k, n_reference=self.n_reference)
        return SCORERS[self.scorer](self.schema)

    def _make_synthesizer(self):
        from .synth import MarginalSynthesizer, MixtureSynthesizer

        if not isinstance(self.synthesizer, str):
            return self.synthesizer
        if self.synthesizer == "marginal":
            return MarginalSynthesizer(noise=self.noise)
        return MixtureSynthesizer()

    def _weight_config(self) -> "_WeightConfig":
        return _WeightConfig(self.weighting, self.gamma, self.w_min, self.delta)

    def _weights(self, scores, tau, rho_1, rho_2, synth, perm_rng):
        return _compute_weights(self._weight_config(), scores, tau, rho_1, rho_2,
                                getattr(synth, "is_dpsgd", False), perm_rng)

    # -- the three calls ------------------------------------------------------
    def fit(self, data, *, chunk_rows: int | None = None, progress=None) -> "REPS":
        """Spend the budget: score privately, weight, and fit the weighted synthesizer.

        With the marginal synthesizer and the reference-kNN scorer (the
        defaults) or ``weighting="uniform"``, the fit is a map-reduce over
        chunks of rows: pass 1 sums the stage-1 sufficient statistics and fits
        the stage-1 synthesizer from them; pass 2 scores each chunk
        (record-local), weights it and sums the weighted stage-2 statistics
        (``weighting="random"`` or a callable add a third pass, since their
        weights need all scores). DP noise is added once, to the sums. Memory
        does not grow with the number of rows beyond the per-record scores,
        weights and epsilons (float64 each), and the noisy statistics are
        identical, bit for bit, for any chunking (and on Dask) given the seed.

        Parameters
        ----------
        data : table, path, iterable of chunks, or dask DataFrame
            A pandas DataFrame, dict of arrays or 2-D array (columns in schema
            order); a path to a ``.npy`` (2-D), ``.csv`` or ``.parquet`` file;
            an ``np.memmap``; an iterable of such tables (or a callable
            returning a fresh iterator); or a ``dask.dataframe.DataFrame``
            (see :mod:`redp.distributed`). Inputs that are not in memory need
            the marginal synthesizer and the ``"reference_knn"`` scorer (or
            ``weighting="uniform"``).
        chunk_rows : int, optional
            Rows per chunk (default :data:`redp.sources.DEFAULT_CHUNK_ROWS`).
        progress : callable, optional
            ``progress(stage)`` is called when a stage starts (stage names as in
            :attr:`fit_timings_`); for benchmarks and progress bars.

        Returns
        -------
        self
        """
        from .sources import DEFAULT_CHUNK_ROWS, as_source, is_chunked_input

        chunk_rows = DEFAULT_CHUNK_ROWS if chunk_rows is None else check_int(chunk_rows, "chunk_rows", "REPS.fit", low=1)
        scorer = None if self.weighting == "uniform" else self._make_scorer()
        synth = self._make_synthesizer()
        for m in (synth, getattr(scorer, "synthesizer", None)):
            if hasattr(m, "check_domain"):  # domain explosion refused before any input is opened
                m.check_domain(self.schema)
        if _is_dask_collection(data):
            from .distributed import DaskRunner

            self._require_streamable(scorer, synth, "a dask DataFrame")
            return self._fit_streaming(DaskRunner(data, self.schema, self.strict), scorer, synth, "pandas", progress)
        if _streamable(scorer, synth):
            source = as_source(data, self.schema, chunk_rows)
            try:
                runner = LocalRunner(source, self.schema, self.strict, chunk_rows)
                return self._fit_streaming(runner, scorer, synth, None, progress)
            finally:
                source.close()
        if is_chunked_input(data):
            self._require_streamable(scorer, synth, "a path, memory map or iterator of chunks")
        return self._fit_in_memory(data, scorer, synth)

    def _require_streamable(self, scorer, synth, what):
        if not _streamable(scorer, synth):
            raise InputTypeError(
                f"REPS.fit on {what} supports the marginal synthesizer with the 'reference_knn' scorer (or "
                f"weighting='uniform'), whose statistics add up over chunks. Got synthesizer={type(synth).__name__} "
                f"and scorer={type(scorer).__name__ if scorer is not None else None} instead. Load the data into "
                f"memory for the mixture synthesizer or the other scorers."
            )

    def _fit_streaming(self, runner, scorer, synth, output_kind, progress) -> "REPS":
        """Map-reduce fit (see :meth:`fit`): the one code path of local, chunked and Dask inputs."""
        from .accounting import per_record_epsilon
        from .synth import MarginalSynthesizer

        timings = {}
        clock = _StageClock(timings, progress)
        runner.clock = clock
        noise_1, noise_2, perm_rng, sample_rng = self._streams()
        ledger, rho_1, rho_2 = self._budget(scorer)
        synth.check_domain(self.schema)  # refused before any pass over the data
        scores = tau = None
        if scorer is not None:
            synth_1 = scorer.synthesizer if scorer.synthesizer is not None else MarginalSynthesizer()
            synth_1.check_domain(self.schema)
            stats_1, n, clamped = runner.statistics(synth_1, None, stage="stage-1 statistics")
            self._warn_weak_delta(n)
            with clock("stage-1 fit"):
                ledger.spend(rho_1, name=f"stage 1: {type(scorer).__name__}")
                _fit_reference_scorer(scorer, synth_1, stats_1, rho_1, noise_1)
                del stats_1
                tau = scorer.tau(self.tau_quantile)
            cfg = self._weight_config()
            if cfg.record_local:
                wmap = _WeightMap(cfg, float(tau), float(rho_1), float(rho_2))
                stats_2, scores, weights = runner.score_weight_statistics(scorer, wmap, synth, n)
            else:
                scores = runner.scores(scorer, n)
                with clock("weighting"):
                    weights = self._weights(scores, tau, rho_1, rho_2, synth, perm_rng)
                stats_2, _, _ = runner.statistics(synth, weights, stage="stage-2 statistics")
        else:
            stats_2, n, clamped = runner.statistics(synth, None, stage="stage-2 statistics")
            self._warn_weak_delta(n)
            weights = np.ones(n, dtype=np.float64)
        with clock("measurement"):
            ledger.spend(rho_2, name=f"stage 2: weighted {type(synth).__name__}")
            synth.fit_from_statistics(stats_2, self.schema, rho=rho_2, rng=noise_2)
            del stats_2
        with clock("accounting"):
            eps_i = per_record_epsilon(weights, self.delta, full_batch=rho_2, uniform_rho=rho_1)
            self._finish(scorer, synth, sample_rng, ledger, rho_1, rho_2, tau, weights, scores, eps_i, clamped)
        self._output_kind = output_kind or getattr(runner, "output_kind", "dict")
        self.fit_timings_ = timings
        self.fit_chunks_ = getattr(runner, "n_chunks", None)
        return self

    def _budget(self, scorer):
        """A fresh ledger and the (stage 1, stage 2) zCDP parts; no scorer: everything to stage 2."""
        from .accounting import Budget

        budget = Budget(epsilon=self.epsilon, delta=self.delta)
        if scorer is None:
            rho_1, rho_2 = 0.0, budget.rho
        else:
            rho_1, rho_2 = budget.split([self.score_fraction, 1.0 - self.score_fraction])
        ledger = budget.ledger()
        ledger.check(rho_1 + rho_2)
        return ledger, rho_1, rho_2

    def _warn_weak_delta(self, n: int) -> None:
        """delta above 1/n allows releasing a whole record: legal, but warn loudly."""
        if n > 0 and self.delta > 1.0 / n:
            import warnings

            from .errors import WeakPrivacyWarning

            warnings.warn(
                f"delta={self.delta:g} exceeds 1/n = {1.0 / n:.3g} for n={n} records: a mechanism may then "
                "publish some records in the clear. Choose delta well below 1/n (e.g. 1e-6).",
                WeakPrivacyWarning,
                stacklevel=3,
            )

    def _finish(self, scorer, synth, sample_rng, ledger, rho_1, rho_2, tau, weights, scores, eps_i, clamped):
        self.scorer_ = scorer
        self.synthesizer_ = synth
        self._sample_rng = sample_rng
        self.report_ = PrivacyReport(
            epsilon=float(ledger.epsilon(self.delta)),
            delta=self.delta,
            rho_total=float(rho_1 + rho_2),
            rho_scoring=float(rho_1),
            rho_synthesis=float("nan") if getattr(synth, "is_dpsgd", False) else float(rho_2),
            ledger=[_entry_dict(e) for e in ledger.entries],
            tau=None if tau is None else float(tau),
            per_record_epsilon=np.asarray(eps_i, dtype=np.float64),
            weights=weights,
            scores=scores,
            by_decile=_decile_summary(scores, weights, np.asarray(eps_i)),
            clamped=dict(clamped or {}),
        )

    def _fit_in_memory(self, data, scorer, synth) -> "REPS":
        """Whole-table fit, for the mixture synthesizer and the scorers without additive statistics."""
        from .accounting import DEFAULT_ORDERS, per_record_epsilon, subsampled_gaussian_rdp

        table, validation = self.schema.validate(data, strict=self.strict)  # raises before any spend
        n = len(next(iter(table.values())))
        self._warn_weak_delta(n)
        self._output_kind = _output_kind(data)
        noise_1, noise_2, perm_rng, sample_rng = self._streams()

        ledger, rho_1, rho_2 = self._budget(scorer)

        scores = tau = None
        if scorer is not None:
            ledger.spend(rho_1, name=f"stage 1: {type(scorer).__name__}")
            scorer.fit(table, rho=rho_1, rng=noise_1)
            scores = scorer.score(table)
            tau = scorer.tau(self.tau_quantile)
            weights = self._weights(scores, tau, rho_1, rho_2, synth, perm_rng)
        else:
            weights = np.ones(n, dtype=np.float64)

        if getattr(synth, "is_dpsgd", False):
            # DP-SGD is accounted by its RDP curve: the synthesizer calibrates its noise so that
            # stage 1 (alpha * rho_1) plus its own curve converts to at most (epsilon, delta).
            synth.fit(table, self.schema, weights, epsilon=self.epsilon, delta=self.delta,
                      prior_rho=rho_1, rng=noise_2)
            acc = synth.accounting
            rdp = subsampled_gaussian_rdp(acc["q"], acc["noise_multiplier"], acc["steps"], DEFAULT_ORDERS)
            ledger.spend_rdp(rdp, name=f"stage 2: weighted {type(synth).__name__} (DP-SGD)",
                             q=acc["q"], noise_multiplier=acc["noise_multiplier"], steps=acc["steps"])
            eps_i = synth.privacy_map(weights, self.delta, uniform_rho=rho_1)
        else:
            ledger.spend(rho_2, name=f"stage 2: weighted {type(synth).__name__}")
            synth.fit(table, self.schema, weights, rho=rho_2, rng=noise_2)
            eps_i = per_record_epsilon(weights, self.delta, full_batch=rho_2, uniform_rho=rho_1)
        self._finish(scorer, synth, sample_rng, ledger, rho_1, rho_2, tau, weights, scores, eps_i,
                     getattr(validation, "clamped", {}))
        self.fit_timings_, self.fit_chunks_ = {}, None
        return self

    def _check_fitted(self):
        if not hasattr(self, "synthesizer_"):
            raise NotFittedError("This REPS model is not fitted yet. Call 'fit' with the data first.")

    def sample(self, n: int, rng=None):
        """Draw ``n`` synthetic records (post-processing: spends no budget).

        Returns the same kind of table as was given to ``fit`` (DataFrame, dict
        of arrays, or 2-D array), with the schema's columns.
        """
        self._check_fitted()
        n = check_int(n, "n", "REPS.sample", low=1)
        g = self._sample_rng if rng is None else as_generator(rng, "REPS.sample")
        blocks = getattr(self.synthesizer_, "sample_blocks", None)
        if self._output_kind == "array" and blocks is not None:
            return _blocks_to_array(blocks(n, rng=g), self.schema)
        return _to_output(self.synthesizer_.sample(n, rng=g), self.schema, self._output_kind)

    def privacy_report(self) -> PrivacyReport:
        """The global guarantee and the curator-only per-record bounds of the fit."""
        self._check_fitted()
        return self.report_

    # -- persistence -----------------------------------------------------------
    def save(self, path) -> None:
        """Save the fitted model: config, schema, synthesizer state, global ledger.

        Per-record weights, scores and epsilons are *not* saved (they derive from
        the private data). Files are pickles: load only files you trust.
        """
        self._check_fitted()
        state = dict(self.__dict__)
        state.pop("scorer_", None)
        r = self.report_
        state["report_"] = PrivacyReport(
            epsilon=r.epsilon, delta=r.delta, rho_total=r.rho_total, rho_scoring=r.rho_scoring,
            rho_synthesis=r.rho_synthesis, ledger=r.ledger, tau=r.tau,
            per_record_epsilon=np.array([r.per_record_epsilon.max()]), weights=np.ones(1), scores=None,
        )
        with open(path, "wb") as f:
            pickle.dump({"format": "redp.REPS/1", "state": state}, f)

    @classmethod
    def load(cls, path) -> "REPS":
        """Load a model written by :meth:`save` (a trusted pickle)."""
        with open(path, "rb") as f:
            payload = pickle.load(f)
        if not isinstance(payload, dict) or payload.get("format") != "redp.REPS/1":
            raise ValueError(f"{path} is not a redp REPS model file.")
        model = cls.__new__(cls)
        model.__dict__.update(payload["state"])
        return model


def _entry_dict(entry) -> dict:
    """A ledger entry as plain JSON-ready values (the RDP curve itself is left out)."""
    out = {"name": entry.name, "kind": entry.kind, "rho": entry.rho}
    if entry.sigma is not None:
        out["sigma"] = entry.sigma
    out.update({k: v for k, v in dict(entry.meta).items() if isinstance(v, (int, float, str))})
    return out


def _output_kind(data) -> str:
    if isinstance(data, dict):
        return "dict"
    if isinstance(data, np.ndarray):
        return "array"
    if type(data).__module__.startswith("pandas"):
        return "pandas"
    return "dict"


def _blocks_to_array(blocks, schema) -> np.ndarray:
    """Fill the (n, d) output of ``sample`` block by block (one copy of the rows in memory)."""
    out = None
    for lo, hi, n, block in blocks:
        cols = [np.asarray(block[name]) for name in schema.names]
        if out is None:
            numeric = all(c.dtype.kind in "fiub" for c in cols)
            out = np.empty((n, len(cols)), dtype=np.float64 if numeric else object)
        for j, c in enumerate(cols):
            out[lo:hi, j] = c
    return out


def _to_output(table: dict, schema, kind: str):
    if kind == "pandas":
        import pandas as pd

        return pd.DataFrame({name: table[name] for name in schema.names})
    if kind == "array":
        numeric = all(np.asarray(table[name]).dtype.kind in "fiub" for name in schema.names)
        out = np.empty((len(table[schema.names[0]]), len(schema.names)), dtype=np.float64 if numeric else object)
        for j, name in enumerate(schema.names):  # column by column, freeing each: peak ~ one table, not two
            out[:, j] = table.pop(name)
        return out
    return {name: table[name] for name in schema.names}


# ---------------------------------------------------------------------------
# the map-reduce fit: weights, per-chunk work, local runner
# ---------------------------------------------------------------------------

_RECORD_LOCAL = ("inverse", "exponential", "sigmoid", "equalize")


@dataclass(frozen=True)
class _WeightConfig:
    """What the weight map needs from a REPS configuration (picklable unless ``weighting`` is a callable)."""

    weighting: object
    gamma: float
    w_min: float
    delta: float

    @property
    def record_local(self) -> bool:
        """Each weight depends on its own score only (and public values): computable chunk by chunk."""
        return isinstance(self.weighting, str) and self.weighting in _RECORD_LOCAL


def _compute_weights(cfg: _WeightConfig, scores, tau, rho_1, rho_2, is_dpsgd, perm_rng):
    from . import weights as W

    if callable(cfg.weighting):
        w = np.asarray(cfg.weighting(scores, tau), dtype=np.float64)
        if w.shape != scores.shape or not np.all((w >= cfg.w_min - 1e-12) & (w <= 1.0)):
            raise ValueError(f"The 'weighting' callable must return {scores.shape[0]} weights in [w_min, 1].")
        return w
    kind = cfg.weighting
    if kind == "inverse" or kind == "random":
        w = W.inverse_weights(scores, tau, gamma=cfg.gamma, w_min=cfg.w_min)
        return W.random_weights(w, perm_rng) if kind == "random" else w
    if kind == "exponential":
        return W.exponential_weights(scores, tau, w_min=cfg.w_min)
    if kind == "sigmoid":
        return W.sigmoid_weights(scores, tau, w_min=cfg.w_min)
    if kind == "equalize":
        if is_dpsgd:
            raise ValueError("weighting='equalize' with the mixture synthesizer needs its DP-SGD schedule before fit; use 'inverse'.")
        return W.equalize_weights(scores, tau, cfg.delta, w_min=cfg.w_min, full_batch_rho=rho_2, uniform_rho=rho_1)
    raise AssertionError(kind)


@dataclass(frozen=True)
class _WeightMap:
    """A record-local weight map with its public parameters fixed: ``scores -> weights`` for one chunk."""

    cfg: _WeightConfig
    tau: float
    rho_1: float
    rho_2: float

    def __call__(self, scores):
        return _compute_weights(self.cfg, scores, self.tau, self.rho_1, self.rho_2, False, None)


def _streamable(scorer, synth) -> bool:
    """The configurations whose fit is a map-reduce over chunks (additive statistics, record-local scores)."""
    from .scoring import ReferenceKNNScorer
    from .synth.marginal import MarginalSynthesizer

    if not isinstance(synth, MarginalSynthesizer):
        return False
    if scorer is None:
        return True
    return isinstance(scorer, ReferenceKNNScorer) and (
        scorer.synthesizer is None or isinstance(scorer.synthesizer, MarginalSynthesizer))


def _is_dask_collection(data) -> bool:
    return type(data).__module__.split(".")[0] in ("dask", "dask_expr") and hasattr(data, "to_delayed")


class _StageClock:
    """``with clock("stage"):`` adds the elapsed time to ``timings[stage]`` and tells ``progress``."""

    def __init__(self, timings: dict, progress=None):
        self.timings, self.progress = timings, progress

    def __call__(self, stage: str):
        return _Stage(self, stage)


class _Stage:
    def __init__(self, clock, stage):
        self.clock, self.stage = clock, stage

    def __enter__(self):
        import time

        if self.clock.progress is not None:
            self.clock.progress(self.stage)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        import time

        t = self.clock.timings
        t[self.stage] = t.get(self.stage, 0.0) + time.perf_counter() - self.t0
        return False


_NO_CLOCK = _StageClock({}, None)


def _fit_reference_scorer(scorer, synth, stats, rho, rng):
    """Fit a ReferenceKNNScorer from stage-1 statistics, exactly as ``scorer.fit(table)`` would."""
    return scorer.fit_statistics(stats, rho=rho, rng=rng, synthesizer=synth)


@dataclass
class ChunkResult:
    """What one chunk (or Dask partition) contributes to a pass. Private data: stays with the curator."""

    n_rows: int
    clamped: dict
    stats: object = None
    scores: np.ndarray | None = None
    weights: np.ndarray | None = None


def _validate_chunk(schema, raw, strict, offset):
    try:
        return schema.validate(raw, strict=strict)
    except Exception as exc:
        if offset and hasattr(exc, "add_note"):
            exc.add_note(f"(row numbers count from the start of the chunk that begins at row {offset} of the input)")
        raise


def process_chunk(raw, schema, strict, *, synth=None, scorer=None, wmap=None, weights=None, offset=0,
                  weights_offset=None, stats_stage="statistics", clock=None) -> ChunkResult:
    """The per-chunk work of every pass: validate; score and weight (record-local); count.

    ``weights[weights_offset:weights_offset + n]`` are this chunk's weights (or
    None); ``wmap`` computes them from this chunk's scores instead. A pure
    function of its inputs: local passes and Dask partitions call it alike.
    """
    clock = clock or _NO_CLOCK
    with clock("validation"):
        table, report = _validate_chunk(schema, raw, strict, offset)
    n = len(next(iter(table.values())))
    if weights is not None:
        lo = 0 if weights_offset is None else weights_offset
        if lo + n > weights.shape[0]:
            raise ValueError(f"REPS.fit: the input changed between passes (more than {weights.shape[0]} rows).")
        weights = weights[lo:lo + n]
    scores = None
    if scorer is not None:
        with clock("scoring"):
            scores = scorer.score(table)
        if wmap is not None:
            with clock("weighting"):
                weights = wmap(scores)
    stats = None
    if synth is not None:
        with clock(stats_stage):
            stats = synth.statistics(table, schema, weights, validated=True)
    return ChunkResult(n, dict(report.clamped), stats, scores, weights)


def _add_clamped(total: dict, part: dict) -> dict:
    for k, v in part.items():
        total[k] = total.get(k, 0) + int(v)
    return total


class LocalRunner:
    """Passes over a :class:`~redp.sources.ChunkSource` in this process."""

    def __init__(self, source, schema, strict, chunk_rows):
        self.source, self.schema, self.strict, self.chunk_rows = source, schema, strict, chunk_rows
        self.clock = _NO_CLOCK
        self.n_chunks = 0

    @property
    def output_kind(self):
        return self.source.output_kind

    def _chunks(self):
        it = self.source.chunks()
        while True:
            with self.clock("reading"):
                raw = next(it, None)
            if raw is None:
                return
            yield raw

    def _check_n(self, n, expected):
        if expected is not None and n != expected:
            raise ValueError(f"REPS.fit: the input changed between passes ({expected} rows, then {n}).")

    def statistics(self, synth, weights, *, stage):
        from .synth.marginal import MarginalStatistics

        total, n, clamped, chunks = MarginalStatistics.zeros(self.schema.cardinalities, synth.noise), 0, {}, 0
        for raw in self._chunks():
            res = process_chunk(raw, self.schema, self.strict, synth=synth, offset=n, stats_stage=stage,
                                clock=self.clock, weights=weights, weights_offset=n)
            total += res.stats
            n += res.n_rows
            chunks += 1
            _add_clamped(clamped, res.clamped)
        self._check_n(n, None if weights is None else weights.shape[0])
        self.n_chunks = chunks
        return total, n, clamped

    def scores(self, scorer, n_expected):
        out, n = np.empty(n_expected, dtype=np.float64), 0
        for raw in self._chunks():
            res = process_chunk(raw, self.schema, self.strict, scorer=scorer, offset=n, clock=self.clock)
            if n + res.n_rows > n_expected:
                self._check_n(n + res.n_rows, n_expected)
            out[n:n + res.n_rows] = res.scores
            n += res.n_rows
        self._check_n(n, n_expected)
        return out

    def score_weight_statistics(self, scorer, wmap, synth, n_expected):
        from .synth.marginal import MarginalStatistics

        total = MarginalStatistics.zeros(self.schema.cardinalities, synth.noise)
        scores, weights, n = np.empty(n_expected), np.empty(n_expected), 0
        for raw in self._chunks():
            res = process_chunk(raw, self.schema, self.strict, synth=synth, scorer=scorer, wmap=wmap, offset=n,
                                stats_stage="stage-2 statistics", clock=self.clock)
            if n + res.n_rows > n_expected:
                self._check_n(n + res.n_rows, n_expected)
            scores[n:n + res.n_rows] = res.scores
            weights[n:n + res.n_rows] = res.weights
            total += res.stats
            n += res.n_rows
        self._check_n(n, n_expected)
        return total, scores, weights

