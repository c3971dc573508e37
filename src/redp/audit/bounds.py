"""Empirical privacy lower bounds from attack outcomes (not DP: reads labels).

A membership test that says "member" with true-positive rate TPR and
false-positive rate FPR against an (epsilon, delta)-DP mechanism must satisfy
(Kairouz, Oh and Viswanath 2015)

.. math::

    \\mathrm{TPR} \\le e^{\\varepsilon} \\mathrm{FPR} + \\delta, \\qquad
    1 - \\mathrm{FPR} \\le e^{\\varepsilon} (1 - \\mathrm{TPR}) + \\delta .

Replacing TPR by a lower and FPR by an upper Clopper-Pearson confidence bound
turns an observed confusion matrix into a high-confidence *lower* bound on the
epsilon of the mechanism that produced it (Jagielski, Ullman and Oprea 2020;
Nasr et al. 2021). The beta quantile needed by Clopper-Pearson is computed here
(continued fraction for the regularized incomplete beta function plus a
safeguarded Newton iteration) so that SciPy is not a runtime dependency.

Examples
--------
>>> lo, hi = clopper_pearson(5, 100)
>>> round(lo, 4), round(hi, 4)
(0.0164, 0.1128)
>>> round(epsilon_lower_bound(tp=900, fn=100, fp=100, tn=900), 3)
1.99
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import as_generator, check_int, check_real
from ..errors import NumericalPrecisionError

__all__ = [
    "betainc",
    "beta_ppf",
    "clopper_pearson",
    "epsilon_lower_bound",
    "epsilon_from_scores",
]

_TINY = 1e-300
_EPS = 1e-15


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _betacf(x: float, a: float, b: float) -> float:
    """Continued fraction of I_x(a, b) (modified Lentz); valid for x < (a+1)/(a+b+2)."""
    max_iter = 1000 + int(50 * math.sqrt(max(a, b)))
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, max_iter + 1):
        m2 = 2 * m
        # even step
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        # odd step
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 3e-16:
            return h
    raise NumericalPrecisionError(
        f"The incomplete beta continued fraction did not converge for a={a}, b={b}, x={x} "
        f"within {max_iter} iterations."
    )


def _check_shape(value, name: str, func: str) -> float:
    return check_real(value, name, func, low=0.0, low_open=True)


def betainc(a, b, x) -> float:
    """Regularized incomplete beta function :math:`I_x(a, b)` (the Beta CDF).

    Parameters
    ----------
    a, b : float
        Shape parameters, > 0.
    x : float
        Point in [0, 1].

    Returns
    -------
    float

    Examples
    --------
    >>> round(betainc(2.0, 3.0, 0.4), 6)
    0.5248
    >>> betainc(1.0, 1.0, 0.25)
    0.25
    """
    a = _check_shape(a, "a", "betainc")
    b = _check_shape(b, "b", "betainc")
    x = check_real(x, "x", "betainc", low=0.0, high=1.0)
    return _betainc(a, b, x)


def _betainc(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(x, a, b) / a
    return 1.0 - math.exp(log_front) * _betacf(1.0 - x, b, a) / b


def _beta_logpdf(a: float, b: float, x: float) -> float:
    return (a - 1.0) * math.log(x) + (b - 1.0) * math.log1p(-x) - _log_beta(a, b)


def beta_ppf(q, a, b) -> float:
    """Quantile function (inverse CDF) of the Beta(a, b) distribution.

    Solves :math:`I_x(a, b) = q` by Newton steps on the Beta density,
    safeguarded by bisection on a shrinking bracket, to about 1e-14 relative
    accuracy.

    Parameters
    ----------
    q : float
        Probability in [0, 1].
    a, b : float
        Shape parameters, > 0.

    Returns
    -------
    float

    Examples
    --------
    >>> round(beta_ppf(0.5, 2.0, 2.0), 12)
    0.5
    >>> round(beta_ppf(0.025, 5.0, 96.0), 6)
    0.016432
    """
    q = check_real(q, "q", "beta_ppf", low=0.0, high=1.0)
    a = _check_shape(a, "a", "beta_ppf")
    b = _check_shape(b, "b", "beta_ppf")
    return _beta_ppf(q, a, b)


def _beta_ppf(q: float, a: float, b: float) -> float:
    if q <= 0.0:
        return 0.0
    if q >= 1.0:
        return 1.0
    # closed forms for the Clopper-Pearson end cases
    if a == 1.0:
        return -math.expm1(math.log1p(-q) / b)  # 1 - (1-q)^(1/b)
    if b == 1.0:
        return math.exp(math.log(q) / a)
    lo, hi = 0.0, 1.0
    x = min(max(a / (a + b), 1e-12), 1.0 - 1e-12)
    for _ in range(300):
        f = _betainc(a, b, x) - q
        if f == 0.0:
            return x
        if f < 0.0:
            lo = x
        else:
            hi = x
        pdf = math.exp(_beta_logpdf(a, b, x)) if 0.0 < x < 1.0 else 0.0
        x_new = x - f / pdf if pdf > 0.0 else math.nan
        if not (lo < x_new < hi) or not math.isfinite(x_new):
            # bisection in log space when the bracket spans many magnitudes
            if lo == 0.0:
                x_new = 0.1 * hi
            elif hi / lo > 4.0:
                x_new = math.sqrt(lo * hi)
            else:
                x_new = 0.5 * (lo + hi)
        if abs(x_new - x) <= 1e-15 * max(x_new, 1e-300) or hi - lo <= 4e-16 * max(hi, 1e-300):
            return x_new
        x = x_new
    raise NumericalPrecisionError(f"beta_ppf did not converge for q={q}, a={a}, b={b}.")


def _check_count(value, name: str, func: str) -> int:
    if isinstance(value, np.integer):
        value = int(value)
    return check_int(value, name, func, low=0)


def clopper_pearson(k, n, confidence: float = 0.95) -> tuple:
    """Two-sided Clopper-Pearson ("exact") interval for a binomial proportion.

    Each end is a one-sided bound at level ``(1 + confidence) / 2``:

    .. math::

        p_{lo} = B^{-1}(\\alpha/2;\\, k, n-k+1), \\qquad
        p_{hi} = B^{-1}(1-\\alpha/2;\\, k+1, n-k), \\qquad \\alpha = 1 - \\text{confidence},

    with :math:`p_{lo} = 0` when ``k == 0`` and :math:`p_{hi} = 1` when ``k == n``.

    Parameters
    ----------
    k : int
        Successes, ``0 <= k <= n``.
    n : int
        Trials, ``n >= 1``.
    confidence : float, default 0.95
        In (0, 1).

    Returns
    -------
    (lo, hi) : tuple of float

    Examples
    --------
    >>> clopper_pearson(0, 10)[0], round(clopper_pearson(0, 10)[1], 4)
    (0.0, 0.3085)
    """
    func = "clopper_pearson"
    k = _check_count(k, "k", func)
    n = check_int(int(n) if isinstance(n, np.integer) else n, "n", func, low=1)
    if k > n:
        raise ValueError(f"The 'k' parameter of {func} must be <= n = {n}. Got {k} instead.")
    confidence = check_real(confidence, "confidence", func, low=0.0, high=1.0, low_open=True, high_open=True)
    return _clopper_pearson(k, n, confidence)


def _clopper_pearson(k: int, n: int, confidence: float) -> tuple:
    alpha = 1.0 - confidence
    lo = 0.0 if k == 0 else _beta_ppf(alpha / 2.0, float(k), float(n - k + 1))
    hi = 1.0 if k == n else _beta_ppf(1.0 - alpha / 2.0, float(k + 1), float(n - k))
    return lo, hi


def _eps_from_rates(tpr_lo: float, fpr_hi: float, delta: float) -> float:
    best = 0.0
    if tpr_lo - delta > 0.0 and fpr_hi > 0.0:
        best = max(best, math.log((tpr_lo - delta) / fpr_hi))
    if 1.0 - fpr_hi - delta > 0.0 and 1.0 - tpr_lo > 0.0:
        best = max(best, math.log((1.0 - fpr_hi - delta) / (1.0 - tpr_lo)))
    return best


def epsilon_lower_bound(tp, fn, fp, tn, delta: float = 0.0, confidence: float = 0.95) -> float:
    """High-confidence empirical lower bound on epsilon from a membership test.

    With :math:`\\mathrm{TPR}_{lo}` the Clopper-Pearson lower bound of
    ``tp / (tp + fn)`` and :math:`\\mathrm{FPR}_{hi}` the upper bound of
    ``fp / (fp + tn)``, both from two-sided intervals at ``confidence``,

    .. math::

        \\varepsilon_{lb} = \\max\\Big(0,\\;
            \\log\\frac{\\mathrm{TPR}_{lo} - \\delta}{\\mathrm{FPR}_{hi}},\\;
            \\log\\frac{1 - \\mathrm{FPR}_{hi} - \\delta}{1 - \\mathrm{TPR}_{lo}}\\Big).

    The two one-sided bounds used each fail with probability at most
    ``(1 - confidence) / 2``, so by a union bound the mechanism is *not*
    (epsilon, delta)-DP for any epsilon < the result, with probability at
    least ``confidence`` over the audit's randomness, provided the test
    (threshold) was fixed before seeing these counts (see
    :func:`epsilon_from_scores`).

    The result is **not** differentially private: it reads membership labels.

    Parameters
    ----------
    tp, fn : int
        Members called members / called non-members.
    fp, tn : int
        Non-members called members / called non-members.
    delta : float, default 0
        The delta of the claim being audited, in [0, 1).
    confidence : float, default 0.95
        Joint confidence level, in (0, 1).

    Returns
    -------
    float
        Lower bound, >= 0.

    Examples
    --------
    >>> epsilon_lower_bound(50, 50, 50, 50)
    0.0
    >>> round(epsilon_lower_bound(990, 10, 10, 990, delta=1e-5), 3)
    3.982
    """
    func = "epsilon_lower_bound"
    tp, fn, fp, tn = (_check_count(v, nm, func) for v, nm in ((tp, "tp"), (fn, "fn"), (fp, "fp"), (tn, "tn")))
    if tp + fn == 0 or fp + tn == 0:
        raise ValueError(
            f"{func} needs at least one member and one non-member. Got tp + fn = {tp + fn} and "
            f"fp + tn = {fp + tn}."
        )
    delta = check_real(delta, "delta", func, low=0.0, high=1.0, high_open=True)
    confidence = check_real(confidence, "confidence", func, low=0.0, high=1.0, low_open=True, high_open=True)
    tpr_lo, _ = _clopper_pearson(tp, tp + fn, confidence)
    _, fpr_hi = _clopper_pearson(fp, fp + tn, confidence)
    return _eps_from_rates(tpr_lo, fpr_hi, delta)


def epsilon_from_scores(
    scores,
    labels,
    *,
    delta: float = 0.0,
    confidence: float = 0.95,
    n_thresholds: int = 64,
    rng=None,
) -> float:
    """Empirical epsilon lower bound from attack scores, with a held-out threshold.

    The targets are split at random (stratified by label) into two halves. On
    the first half, the threshold "score >= t means member" is chosen among
    ``n_thresholds`` score quantiles to maximise :func:`epsilon_lower_bound`;
    the bound is then computed from the confusion matrix of that fixed
    threshold on the second half, so the Clopper-Pearson guarantee holds.

    The result is **not** differentially private: it reads membership labels.

    Parameters
    ----------
    scores : array_like (n,)
        Membership scores, higher = member.
    labels : array_like (n,) of {0, 1} or bool
        1 for members.
    delta, confidence : float
        As in :func:`epsilon_lower_bound`.
    n_thresholds : int, default 64
        Candidate thresholds tried on the selection half.
    rng : None, int, SeedSequence or Generator
        Randomness of the split.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> g = np.random.default_rng(0)
    >>> y = np.repeat([1, 0], 2000)
    >>> s = g.normal(loc=2.0 * y)
    >>> 2.0 < epsilon_from_scores(s, y, rng=1) < 4.0
    True
    """
    func = "epsilon_from_scores"
    from .metrics import _check_scores_labels

    s, y = _check_scores_labels(scores, labels, func)
    n_thresholds = check_int(n_thresholds, "n_thresholds", func, low=1)
    delta = check_real(delta, "delta", func, low=0.0, high=1.0, high_open=True)
    confidence = check_real(confidence, "confidence", func, low=0.0, high=1.0, low_open=True, high_open=True)
    gen = as_generator(rng, func)
    pos, neg = np.flatnonzero(y), np.flatnonzero(~y)
    if len(pos) < 2 or len(neg) < 2:
        raise ValueError(
            f"{func} needs at least two members and two non-members. Got {len(pos)} and {len(neg)}."
        )
    pos, neg = gen.permutation(pos), gen.permutation(neg)
    sel = np.concatenate((pos[: len(pos) // 2], neg[: len(neg) // 2]))
    ev = np.concatenate((pos[len(pos) // 2 :], neg[len(neg) // 2 :]))

    def confusion(idx, t):
        called = s[idx] >= t
        yy = y[idx]
        tp = int(np.count_nonzero(called & yy))
        fp = int(np.count_nonzero(called & ~yy))
        return tp, int(yy.sum()) - tp, fp, int((~yy).sum()) - fp

    cands = np.unique(np.quantile(s[sel], np.linspace(0.0, 1.0, n_thresholds + 2)[1:-1]))
    best_t, best = cands[0], -1.0
    for t in cands:
        tp, fn, fp, tn = confusion(sel, t)
        e = _eps_from_rates(_clopper_pearson(tp, tp + fn, confidence)[0],
                            _clopper_pearson(fp, fp + tn, confidence)[1], delta)
        if e > best:
            best, best_t = e, t
    tp, fn, fp, tn = confusion(ev, best_t)
    return epsilon_lower_bound(tp, fn, fp, tn, delta=delta, confidence=confidence)
