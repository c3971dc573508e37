"""Attack metrics (not DP: they read membership labels).

All metrics take membership ``scores`` (higher = "member") and ``labels``
(1 / True for members) and are computed from the empirical ROC curve, whose
points are the (FPR, TPR) pairs of the thresholds "score >= t" at every
distinct score (ties move together, as in ``sklearn.metrics.roc_curve``).

Examples
--------
>>> roc_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
0.75
>>> tpr_at_fpr([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.0)
0.5
>>> advantage([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_generator, check_int, check_real
from ..errors import InputTypeError

__all__ = ["roc_auc", "roc_curve", "tpr_at_fpr", "advantage", "attack_report", "AttackReport"]


def _check_scores_labels(scores, labels, func: str):
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels)
    if s.ndim != 1:
        raise ValueError(f"The 'scores' parameter of {func} must be 1-D. Got shape {s.shape} instead.")
    if y.shape != s.shape:
        raise ValueError(
            f"The 'labels' parameter of {func} must have the shape of scores {s.shape}. Got {y.shape} instead."
        )
    if not np.all(np.isfinite(s)):
        raise ValueError(f"The 'scores' parameter of {func} must be finite. Got {int((~np.isfinite(s)).sum())} non-finite values.")
    if y.dtype != bool:
        if not np.issubdtype(y.dtype, np.number) or not np.all((y == 0) | (y == 1)):
            raise InputTypeError(
                f"The 'labels' parameter of {func} must contain only 0/1 or bool. Got values "
                f"{np.unique(y)[:5]!r} instead."
            )
        y = y.astype(bool)
    return s, y


def _check_both_classes(y: np.ndarray, func: str):
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"{func} needs both members and non-members. Got {n_pos} and {n_neg}.")
    return n_pos, n_neg


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    boundaries = np.flatnonzero(np.diff(xs)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(x)]))
    avg = (starts + ends + 1) / 2.0  # 1-based average rank of each tie block
    ranks[order] = np.repeat(avg, ends - starts)
    return ranks


def _roc(s: np.ndarray, y: np.ndarray):
    """(fpr, tpr, thresholds), starting at (0, 0), one point per distinct score."""
    order = np.argsort(-s, kind="mergesort")
    ss, yy = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]
    tps = np.cumsum(yy)[last].astype(np.float64)
    fps = (last + 1) - tps
    n_pos, n_neg = tps[-1], fps[-1]
    fpr = np.r_[0.0, fps / n_neg]
    tpr = np.r_[0.0, tps / n_pos]
    thr = np.r_[np.inf, ss[last]]
    return fpr, tpr, thr


def _tpr_at(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    # fpr is non-decreasing: the last point with fpr <= target has the largest tpr
    i = np.searchsorted(fpr, target * (1.0 + 1e-12) + 1e-15, side="right") - 1
    return float(tpr[i])


def roc_curve(scores, labels):
    """Empirical ROC curve of the rule "member if score >= threshold".

    Not DP: reads membership labels.

    Parameters
    ----------
    scores : array_like (n,)
        Higher = "member". Finite.
    labels : array_like (n,) of {0, 1} or bool
        1 for members.

    Returns
    -------
    fpr, tpr : ndarray of float64
        Non-decreasing, from (0, 0) to (1, 1), one point per distinct score.
    thresholds : ndarray of float64
        Decreasing; ``thresholds[0] = inf``.

    Examples
    --------
    >>> fpr, tpr, thr = roc_curve([0.1, 0.4, 0.4, 0.8], [0, 0, 1, 1])
    >>> fpr, tpr
    (array([0. , 0. , 0.5, 1. ]), array([0. , 0.5, 1. , 1. ]))
    """
    s, y = _check_scores_labels(scores, labels, "roc_curve")
    _check_both_classes(y, "roc_curve")
    return _roc(s, y)


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve (Mann-Whitney U with ties counted 1/2).

    Not DP: reads membership labels.

    Parameters
    ----------
    scores : array_like (n,)
        Higher = "member".
    labels : array_like (n,) of {0, 1} or bool
        1 for members.

    Returns
    -------
    float
        In [0, 1]; 0.5 is chance.

    Examples
    --------
    >>> roc_auc([1, 1, 2, 2], [0, 1, 0, 1])
    0.5
    """
    s, y = _check_scores_labels(scores, labels, "roc_auc")
    n_pos, n_neg = _check_both_classes(y, "roc_auc")
    ranks = _average_ranks(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _check_fpr(fpr, func):
    arr = np.atleast_1d(np.asarray(fpr, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0 or not np.all((arr >= 0) & (arr <= 1)):
        raise ValueError(f"The 'fpr' parameter of {func} must be a number or 1-D sequence in [0, 1]. Got {fpr!r} instead.")
    return arr


def tpr_at_fpr(scores, labels, fpr=(0.01, 0.001)):
    """True-positive rate at a fixed false-positive rate.

    The largest TPR over ROC points with FPR <= ``fpr`` (no interpolation, as
    in Carlini et al. 2022, "Membership inference attacks from first
    principles"). With ``N`` non-members the FPR grid is ``1/N``, so a target
    below ``1/N`` reads the TPR at FPR = 0.

    Not DP: reads membership labels.

    Parameters
    ----------
    scores : array_like (n,)
    labels : array_like (n,) of {0, 1} or bool
    fpr : float or sequence of float, default (0.01, 0.001)

    Returns
    -------
    float, or ndarray of float64 when ``fpr`` is a sequence

    Examples
    --------
    >>> tpr_at_fpr([0.9, 0.8, 0.7, 0.6, 0.5], [1, 0, 1, 1, 0], [0.0, 0.5, 1.0])
    array([0.33333333, 1.        , 1.        ])
    """
    s, y = _check_scores_labels(scores, labels, "tpr_at_fpr")
    _check_both_classes(y, "tpr_at_fpr")
    targets = _check_fpr(fpr, "tpr_at_fpr")
    f, t, _ = _roc(s, y)
    out = np.array([_tpr_at(f, t, a) for a in targets])
    return float(out[0]) if np.ndim(fpr) == 0 else out


def advantage(scores, labels) -> float:
    """Membership advantage: the largest TPR - FPR over thresholds (Yeom et al. 2018).

    Not DP: reads membership labels.

    Returns
    -------
    float
        In [0, 1] (the trivial thresholds give 0).

    Examples
    --------
    >>> advantage([3, 2, 1, 0], [1, 1, 0, 0])
    1.0
    """
    s, y = _check_scores_labels(scores, labels, "advantage")
    _check_both_classes(y, "advantage")
    f, t, _ = _roc(s, y)
    return float(np.max(t - f))


def _metric_names(fprs) -> tuple:
    return ("auc",) + tuple(f"tpr@{a:g}" for a in fprs) + ("advantage",)


def _all_metrics(s: np.ndarray, y: np.ndarray, fprs) -> np.ndarray:
    f, t, _ = _roc(s, y)
    auc = float(np.sum(np.diff(f) * (t[1:] + t[:-1])) / 2.0)
    return np.array([auc] + [_tpr_at(f, t, a) for a in fprs] + [float(np.max(t - f))])


def _weighted_metrics(s: np.ndarray, y: np.ndarray, W: np.ndarray, fprs) -> np.ndarray:
    """Metrics for many bootstrap replicates at once.

    ``W`` (B, n) integer array: how often each original target is drawn;
    members and non-members are resampled separately, so every row keeps the
    class totals. Sorting happens once; each replicate is a weighted
    cumulative sum over the same tie blocks. Returns (B, n_metrics).
    """
    order = np.argsort(-s, kind="mergesort")
    ss, yy = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]
    Wo = W[:, order]
    cum_all = np.cumsum(Wo, axis=1)[:, last]
    Wo *= yy  # in place: member weights only
    tps = np.cumsum(Wo, axis=1)[:, last]
    del Wo
    fps = cum_all - tps
    n_pos = tps[:, -1:].astype(np.float64)
    n_neg = fps[:, -1:].astype(np.float64)
    # trapezoid over blocks, the first block starting from (0, 0)
    dfp = np.diff(fps, axis=1, prepend=0)
    tsum = tps + np.concatenate([np.zeros((len(W), 1), tps.dtype), tps[:, :-1]], axis=1)
    out = np.empty((len(W), len(fprs) + 2))
    out[:, 0] = np.einsum("ij,ij->i", dfp.astype(np.float64), tsum.astype(np.float64)) / (2.0 * n_pos[:, 0] * n_neg[:, 0])
    tpr = tps / n_pos
    fpr = fps / n_neg
    for j, a in enumerate(fprs):
        # tpr at the last block with fpr <= a (0 if none: the (0, 0) point)
        out[:, 1 + j] = np.where(fpr <= a * (1.0 + 1e-12) + 1e-15, tpr, 0.0).max(axis=1)
    out[:, -1] = np.maximum(np.max(tpr - fpr, axis=1), 0.0)
    return out


def _bootstrap_counts(gen, n: int, size: int) -> np.ndarray:
    """(size, n) multiplicities of n-out-of-n resampling with replacement."""
    draws = gen.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=size * n).reshape(size, n).astype(np.int32)


@dataclass(frozen=True)
class AttackReport:
    """Attack metrics overall and by outlierness decile, with bootstrap CIs (not DP).

    Row 0 of every array is the whole target set ("all"), rows 1..n_deciles
    are the outlierness deciles, least outlying first (the last row is the
    top decile).

    Attributes
    ----------
    metrics : tuple of str
        Column names, e.g. ``("auc", "tpr@0.01", "tpr@0.001", "advantage")``.
    groups : tuple
        ``("all", 1, 2, ..., n_deciles)``.
    value, ci_low, ci_high : ndarray (n_groups, n_metrics)
        Point estimate and percentile-bootstrap interval (NaN where a group
        lacks members or non-members).
    n_members, n_nonmembers : ndarray of int64 (n_groups,)
    edges : ndarray (n_deciles + 1,)
        Oracle outlierness range of each decile: decile j holds scores in
        ``[edges[j-1], edges[j]]``.
    confidence : float
    """

    metrics: tuple
    groups: tuple
    value: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_members: np.ndarray
    n_nonmembers: np.ndarray
    edges: np.ndarray
    confidence: float

    def _col(self, metric):
        if metric not in self.metrics:
            raise ValueError(f"Unknown metric {metric!r}; choose from {self.metrics}.")
        return self.metrics.index(metric)

    def overall(self, metric: str = "auc") -> tuple:
        """``(value, ci_low, ci_high)`` over all targets."""
        j = self._col(metric)
        return float(self.value[0, j]), float(self.ci_low[0, j]), float(self.ci_high[0, j])

    def by_decile(self, metric: str = "auc") -> np.ndarray:
        """Point estimates per decile, least outlying first."""
        return self.value[1:, self._col(metric)].copy()

    def top_decile(self, metric: str = "auc") -> tuple:
        """``(value, ci_low, ci_high)`` in the most outlying decile."""
        j = self._col(metric)
        return float(self.value[-1, j]), float(self.ci_low[-1, j]), float(self.ci_high[-1, j])

    def to_records(self) -> list:
        """One flat dict per group (for CSV / pandas): group, counts, each metric and its CI."""
        rows = []
        for g, name in enumerate(self.groups):
            row = {"group": name, "n_members": int(self.n_members[g]), "n_nonmembers": int(self.n_nonmembers[g])}
            for j, m in enumerate(self.metrics):
                row[m] = float(self.value[g, j])
                row[f"{m}_lo"] = float(self.ci_low[g, j])
                row[f"{m}_hi"] = float(self.ci_high[g, j])
            rows.append(row)
        return rows


def _decile_groups(oracle: np.ndarray, n_deciles: int) -> np.ndarray:
    order = np.argsort(oracle, kind="mergesort")
    group = np.empty(len(oracle), dtype=np.int64)
    group[order] = (np.arange(len(oracle)) * n_deciles) // len(oracle)
    return group


def attack_report(
    scores,
    labels,
    oracle_outlierness,
    *,
    n_deciles: int = 10,
    n_bootstrap: int = 200,
    fpr=(0.01, 0.001),
    confidence: float = 0.95,
    rng=None,
) -> AttackReport:
    """AUC, TPR at fixed FPR and advantage, overall and by outlierness decile.

    Deciles are taken over the targets (members and non-members together) by
    rank of a non-private oracle outlierness (e.g. kNN distance within the
    full population), so each holds ``n // n_deciles`` or one more targets;
    ties in the oracle are broken by position. Confidence intervals are
    percentile bootstraps that resample members and non-members separately
    within each group.

    The report is **not** differentially private: it reads membership labels
    and private oracle scores. Use it for evaluation only.

    Parameters
    ----------
    scores : array_like (n,)
        Attack membership scores, higher = member.
    labels : array_like (n,) of {0, 1} or bool
        1 for members.
    oracle_outlierness : array_like (n,)
        Higher = more outlying.
    n_deciles : int, default 10
        Number of rank groups (10 = deciles).
    n_bootstrap : int, default 200
        Bootstrap replicates; 0 gives NaN intervals.
    fpr : sequence of float, default (0.01, 0.001)
        FPR levels for the TPR columns.
    confidence : float, default 0.95
    rng : None, int, SeedSequence or Generator
        Bootstrap randomness.

    Returns
    -------
    AttackReport

    Examples
    --------
    >>> import numpy as np
    >>> g = np.random.default_rng(0)
    >>> y = np.repeat([1, 0], 500)
    >>> oracle = g.random(1000)
    >>> s = g.normal(size=1000) + y * 3 * oracle   # leaks more for outliers
    >>> rep = attack_report(s, y, oracle, n_bootstrap=50, rng=1)
    >>> rep.metrics
    ('auc', 'tpr@0.01', 'tpr@0.001', 'advantage')
    >>> bool(rep.top_decile("auc")[0] > rep.by_decile("auc")[0] + 0.3)
    True
    """
    func = "attack_report"
    s, y = _check_scores_labels(scores, labels, func)
    _check_both_classes(y, func)
    o = np.asarray(oracle_outlierness, dtype=np.float64)
    if o.shape != s.shape or not np.all(np.isfinite(o)):
        raise ValueError(
            f"The 'oracle_outlierness' parameter of {func} must be finite with the shape of scores "
            f"{s.shape}. Got shape {o.shape} instead."
        )
    n_deciles = check_int(n_deciles, "n_deciles", func, low=1, high=len(s))
    n_bootstrap = check_int(n_bootstrap, "n_bootstrap", func, low=0)
    fprs = tuple(float(a) for a in _check_fpr(fpr, func))
    confidence = check_real(confidence, "confidence", func, low=0.0, high=1.0, low_open=True, high_open=True)
    gen = as_generator(rng, func)

    group = _decile_groups(o, n_deciles)
    names = _metric_names(fprs)
    n_groups = n_deciles + 1
    value = np.full((n_groups, len(names)), np.nan)
    lo = np.full_like(value, np.nan)
    hi = np.full_like(value, np.nan)
    n_mem = np.zeros(n_groups, dtype=np.int64)
    n_non = np.zeros(n_groups, dtype=np.int64)
    edges = np.empty(n_deciles + 1)
    for g in range(n_deciles):
        og = o[group == g]
        edges[g] = og.min()
        edges[g + 1] = og.max()
    alpha = 1.0 - confidence
    for g in range(n_groups):
        mask = np.ones(len(s), dtype=bool) if g == 0 else group == g - 1
        pos = s[mask & y]
        neg = s[mask & ~y]
        n_mem[g], n_non[g] = len(pos), len(neg)
        if len(pos) == 0 or len(neg) == 0:
            continue
        lab = np.r_[np.ones(len(pos), bool), np.zeros(len(neg), bool)]
        both = np.r_[pos, neg]
        value[g] = _all_metrics(both, lab, fprs)
        if n_bootstrap:
            chunk = max(1, int(4_000_000 // len(both)))  # bound the (B, n) work arrays
            boot = np.empty((n_bootstrap, len(names)))
            for b0 in range(0, n_bootstrap, chunk):
                b1 = min(n_bootstrap, b0 + chunk)
                W = np.hstack([_bootstrap_counts(gen, len(pos), b1 - b0), _bootstrap_counts(gen, len(neg), b1 - b0)])
                boot[b0:b1] = _weighted_metrics(both, lab, W, fprs)
            lo[g], hi[g] = np.quantile(boot, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    groups = ("all",) + tuple(range(1, n_deciles + 1))
    return AttackReport(names, groups, value, lo, hi, n_mem, n_non, edges, confidence)

