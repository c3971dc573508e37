"""Mechanism-level privacy audits: does a noise mechanism keep its per-record claim?

A DP claim "record i enjoys (epsilon_i, delta)-DP" bounds how well *any* test
can tell the mechanism's output on a dataset ``D`` from its output on the
neighbour ``D + {x_i}``. This module runs that test for real, on a
**worst-case neighbouring pair** built from redp's own kernels and noise
functions, and turns the outcome into an empirical lower bound on epsilon with
Clopper-Pearson confidence (:func:`redp.audit.epsilon_lower_bound`):

1. draw ``n_trials`` outputs of the mechanism on each dataset (vectorised: all
   the noise in one call of :func:`redp.mechanisms.gaussian_noise`);
2. reduce every output to one number, its projection on the direction in which
   the audited record moves the output (for Gaussian noise this is the
   likelihood ratio up to a monotone map, so a threshold on it is the
   Neyman-Pearson optimal test; with Poisson subsampling the ratio
   ``1 - q + q exp(mu x - mu^2/2)`` is still monotone in it);
3. split the trials of each world in halves; choose the threshold and its side
   on the first half (the one maximising the Clopper-Pearson bound among
   thresholds at log-spaced tail probabilities), then count errors on the
   second half with that threshold fixed, so the confidence statement holds.

If the mechanism is as private as claimed, the returned ``epsilon_lb`` exceeds
the claim with probability at most ``1 - confidence``; a build whose noise or
sensitivity is wrong shows up as ``epsilon_lb > claimed_epsilon``.

Audited mechanisms:

* :func:`audit_gaussian_measurement`: a weighted count (the statistic every
  marginal of :class:`redp.synth.MarginalSynthesizer` is built from; record
  ``i`` adds ``w_i``) plus Gaussian noise of standard deviation ``sigma``,
  computed with :func:`redp._kernels.histogram.weighted_bincount`. Claim:
  ``rho_i = w_i^2 / (2 sigma^2)`` zCDP (:func:`redp.accounting.per_record_epsilon`).
* :func:`audit_dpsgd_step`: one weighted DP-SGD aggregation
  (:func:`redp.mechanisms.clip_scale_sum` + Gaussian noise ``sigma C``, divided
  by the public expected batch size, as :func:`redp.mechanisms.noisy_weighted_mean`)
  with Poisson sampling at rate ``q``; the other records have zero gradient and
  the audited record a gradient far beyond the clipping norm (the worst case).
  Claim: subsampled-Gaussian RDP with multiplier ``sigma / w_i``.
* :func:`audit_scores`: the generic step 3 for any pair of score samples (use
  it for end-to-end audits, e.g. refitting a synthesizer with and without a
  planted record).

The audit reads nothing private, but its results say nothing about a real
dataset either: it tests the *mechanism*. Seeded runs (an int ``rng``) draw
their noise in redp's seeded mode (:class:`~redp.errors.InsecureRandomnessWarning`).

Examples
--------
>>> import warnings
>>> from redp.audit.mechanism_audit import audit_gaussian_measurement
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     res = audit_gaussian_measurement(0.5, sigma=0.5, delta=1e-5, n_trials=20_000, rng=0)
>>> bool(res.epsilon_lb <= res.claimed_epsilon), res.n_trials
(True, 20000)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import mechanisms
from .._validation import as_generator, check_int, check_real
from ..errors import InputTypeError, ParameterError, PrivacyParameterError
from .bounds import epsilon_lower_bound

__all__ = ["AuditResult", "audit_scores", "audit_gaussian_measurement", "audit_dpsgd_step"]


@dataclass(frozen=True)
class AuditResult:
    """Outcome of a mechanism audit.

    Attributes
    ----------
    epsilon_lb : float
        Empirical lower bound on epsilon at ``delta`` (Clopper-Pearson, ``confidence``).
    claimed_epsilon : float or None
        What redp's accountant claims for the audited record (None if not given).
    delta, confidence : float
    n_trials : int
        Outputs drawn per world (half select the threshold, half are counted).
    threshold : float
        The test "score >= threshold" (``side = +1``) or "score <= threshold"
        (``side = -1``) means "the record is in".
    side : int
    counts : tuple of int
        ``(tp, fn, fp, tn)`` on the evaluation half.
    """

    epsilon_lb: float
    claimed_epsilon: float | None
    delta: float
    confidence: float
    n_trials: int
    threshold: float
    side: int
    counts: tuple

    @property
    def violated(self) -> bool:
        """True when the empirical bound exceeds the claim (the mechanism leaks more than claimed)."""
        return self.claimed_epsilon is not None and self.epsilon_lb > self.claimed_epsilon


def _as_scores(x, name, func) -> np.ndarray:
    a = np.asarray(x)
    if a.dtype.kind not in "iuf":
        raise InputTypeError(f"The '{name}' parameter of {func} must be an array of real numbers. Got dtype {a.dtype} instead.")
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    if a.size < 4:
        raise ParameterError(f"The '{name}' parameter of {func} needs at least 4 scores. Got {a.size} instead.")
    if not np.all(np.isfinite(a)):
        raise ParameterError(f"The '{name}' parameter of {func} must be finite. Got a NaN or inf instead.")
    return a


def _counts(sorted_in, sorted_out, t, side):
    """(tp, fn, fp, tn) of the test "in" <=> score >= t (side +1) or score <= t (side -1)."""
    n1, n0 = sorted_in.size, sorted_out.size
    if side > 0:
        tp = n1 - int(np.searchsorted(sorted_in, t, side="left"))
        fp = n0 - int(np.searchsorted(sorted_out, t, side="left"))
    else:
        tp = int(np.searchsorted(sorted_in, t, side="right"))
        fp = int(np.searchsorted(sorted_out, t, side="right"))
    return tp, n1 - tp, fp, n0 - fp


def audit_scores(scores_out, scores_in, *, delta: float = 0.0, confidence: float = 0.95,
                 claimed_epsilon=None, n_candidates: int = 64, rng=None) -> AuditResult:
    """Empirical epsilon lower bound from scores of the two neighbouring worlds.

    Parameters
    ----------
    scores_out : array_like (n0,)
        One test statistic per trial run on the dataset *without* the record.
    scores_in : array_like (n1,)
        The same statistic on runs *with* the record.
    delta : float, default 0
        The delta of the claim, in [0, 1).
    confidence : float, default 0.95
    claimed_epsilon : float, optional
        Stored in the result (``violated`` compares with it).
    n_candidates : int, default 64
        Tail probabilities tried per side and per world when choosing the
        threshold on the selection half (log-spaced from ``1/n`` to 1/2).
    rng : None, int, SeedSequence or Generator
        Randomness of the selection/evaluation split.

    Returns
    -------
    AuditResult

    Examples
    --------
    >>> import numpy as np
    >>> g = np.random.default_rng(0)
    >>> res = audit_scores(g.normal(size=100_000), g.normal(2.0, size=100_000), delta=1e-5, rng=1)
    >>> 3.0 < res.epsilon_lb < 8.0, res.side
    (True, 1)
    """
    func = "audit_scores"
    s0 = _as_scores(scores_out, "scores_out", func)
    s1 = _as_scores(scores_in, "scores_in", func)
    delta = check_real(delta, "delta", func, low=0.0, high=1.0, high_open=True, error=PrivacyParameterError)
    confidence = check_real(confidence, "confidence", func, low=0.0, high=1.0, low_open=True, high_open=True)
    n_candidates = check_int(n_candidates, "n_candidates", func, low=1)
    if claimed_epsilon is not None:
        claimed_epsilon = check_real(claimed_epsilon, "claimed_epsilon", func, low=0.0)
    gen = as_generator(rng, func)
    p0, p1 = gen.permutation(s0.size), gen.permutation(s1.size)
    h0, h1 = s0.size // 2, s1.size // 2
    sel0, ev0 = np.sort(s0[p0[:h0]]), np.sort(s0[p0[h0:]])
    sel1, ev1 = np.sort(s1[p1[:h1]]), np.sort(s1[p1[h1:]])

    n_sel = min(h0, h1)
    tails = np.unique(np.geomspace(1.0 / n_sel, 0.5, n_candidates))
    cands = []  # (approximate bound, threshold, side)
    for side in (1, -1):
        qs = 1.0 - tails if side > 0 else tails
        ts = np.unique(np.concatenate([np.quantile(sel1, qs), np.quantile(sel0, qs)]))
        if side > 0:
            tp = sel1.size - np.searchsorted(sel1, ts, side="left")
            fp = sel0.size - np.searchsorted(sel0, ts, side="left")
        else:
            tp = np.searchsorted(sel1, ts, side="right")
            fp = np.searchsorted(sel0, ts, side="right")
        # cheap screen (normal-approximation confidence ends), exact Clopper-Pearson below
        tpr_lo = (tp - 2.0 * np.sqrt(tp)) / sel1.size - delta
        fpr_hi = (fp + 2.0 * np.sqrt(fp + 1.0) + 2.0) / sel0.size
        with np.errstate(divide="ignore", invalid="ignore"):
            approx = np.maximum(np.log(np.maximum(tpr_lo, 1e-300) / fpr_hi),
                                np.log(np.maximum(1.0 - fpr_hi - delta, 1e-300)
                                       / np.maximum(1.0 - tp / sel1.size + 2.0 * np.sqrt(tp + 1.0) / sel1.size, 1e-300)))
        cands.extend(zip(approx.tolist(), ts.tolist(), [side] * ts.size))
    cands.sort(key=lambda c: -c[0])
    best = (-1.0, float(sel1[0]), 1)
    for _, t, side in cands[:12]:
        tp, fn, fp, tn = _counts(sel1, sel0, t, side)
        if tp == 0:
            continue
        e = epsilon_lower_bound(tp, fn, fp, tn, delta=delta, confidence=confidence)
        if e > best[0]:
            best = (e, float(t), side)
    _, t, side = best
    counts = _counts(ev1, ev0, t, side)
    eps = epsilon_lower_bound(*counts, delta=delta, confidence=confidence)
    return AuditResult(epsilon_lb=float(eps), claimed_epsilon=claimed_epsilon, delta=delta,
                       confidence=confidence, n_trials=int(min(s0.size, s1.size)), threshold=t,
                       side=int(side), counts=tuple(int(c) for c in counts))


def _project(out0, out1, direction):
    norm = float(np.linalg.norm(direction))
    u = direction / norm if norm > 0 else np.eye(direction.size)[0]
    return out0 @ u, out1 @ u


def _measurement_trials(weight, sigma, n_trials, n_others, noise_rng):
    """(outputs without, outputs with the record, direction): weighted counts + Gaussian noise."""
    from .._kernels import histogram

    # the other records sit in cell 1 at weight 1; the audited one in cell 0 at its weight
    codes0 = np.ones(n_others, dtype=np.int64)
    codes1 = np.concatenate([codes0, np.zeros(1, dtype=np.int64)])
    w1 = np.concatenate([np.ones(n_others), [weight]])
    hist0 = np.asarray(histogram.weighted_bincount(codes0, np.ones(n_others), 2), dtype=np.float64)
    hist1 = np.asarray(histogram.weighted_bincount(codes1, w1, 2), dtype=np.float64)
    noise = np.asarray(mechanisms.gaussian_noise((2 * n_trials, 2), sigma, noise_rng), dtype=np.float64)
    return hist0 + noise[:n_trials], hist1 + noise[n_trials:], hist1 - hist0


def _check_common(weight, delta, n_trials, confidence, func):
    weight = check_real(weight, "weight", func, low=0.0, high=1.0, low_open=True)
    delta = check_real(delta, "delta", func, low=0.0, high=1.0, low_open=True, high_open=True,
                       error=PrivacyParameterError)
    n_trials = check_int(n_trials, "n_trials", func, low=8)
    confidence = check_real(confidence, "confidence", func, low=0.0, high=1.0, low_open=True, high_open=True)
    return weight, delta, n_trials, confidence


def _streams(rng, func):
    resolved = mechanisms.resolve_rng(rng, func)
    if isinstance(resolved, str):
        return resolved, np.random.default_rng(), np.random.default_rng()
    noise, incl, split = resolved.spawn(3)
    return noise, incl, split


def audit_gaussian_measurement(weight, sigma, delta, *, n_trials: int = 1_000_000, n_others: int = 10,
                               confidence: float = 0.95, rng=None) -> AuditResult:
    """Audit the weighted Gaussian measurement for a record of weight ``weight``.

    The mechanism is a weighted histogram (record ``i`` adds ``w_i`` to its
    cell, :func:`redp._kernels.histogram.weighted_bincount`) plus
    :func:`redp.mechanisms.gaussian_noise` of standard deviation ``sigma`` in
    every cell, the building block of every marginal redp measures. Noise is
    calibrated to weight 1 (L2 sensitivity 1, ``rho = 1 / (2 sigma^2)``), so
    the record's claim is ``rho_i = w^2 rho``, converted at ``delta`` by
    :func:`redp.accounting.per_record_epsilon`.

    Parameters
    ----------
    weight : float
        The audited record's weight, in (0, 1].
    sigma : float
        Noise standard deviation, > 0.
    delta : float
        In (0, 1).
    n_trials : int, default 1_000_000
        Outputs per world (half choose the threshold, half are counted).
    n_others : int, default 10
        Other records (weight 1, in another cell: their counts are the same in both worlds).
    confidence : float, default 0.95
    rng : None, "secure", int, SeedSequence or Generator
        Noise source (see :func:`redp.mechanisms.resolve_rng`) and split randomness.

    Returns
    -------
    AuditResult
        ``claimed_epsilon`` is redp's per-record epsilon for ``weight``.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     res = audit_gaussian_measurement(1.0, sigma=1.0, delta=1e-5, n_trials=20_000, rng=1)
    >>> round(res.claimed_epsilon, 3), bool(res.epsilon_lb < res.claimed_epsilon)
    (4.728, True)
    """
    from .. import accounting

    func = "audit_gaussian_measurement"
    weight, delta, n_trials, confidence = _check_common(weight, delta, n_trials, confidence, func)
    sigma = check_real(sigma, "sigma", func, low=0.0, low_open=True, error=PrivacyParameterError)
    n_others = check_int(n_others, "n_others", func, low=0)
    noise_rng, _, split_rng = _streams(rng, func)
    claim = float(accounting.per_record_epsilon(np.array([weight]), delta,
                                                full_batch=accounting.gaussian_zcdp(sigma))[0])
    out0, out1, direction = _measurement_trials(weight, sigma, n_trials, n_others, noise_rng)
    s0, s1 = _project(out0, out1, direction)
    return audit_scores(s0, s1, delta=delta, confidence=confidence, claimed_epsilon=claim, rng=split_rng)


def _dpsgd_trials(weight, noise_multiplier, max_grad_norm, sample_rate, n_trials, dim, n_others,
                  n_public, noise_rng, incl_rng):
    """(outputs without, outputs with the record, direction) of one weighted DP-SGD step per trial."""
    C = max_grad_norm
    others = np.zeros((n_others, dim))  # zero gradients: they cannot mask the audited record
    target = np.zeros((1, dim))
    target[0, 0] = 10.0 * C  # far beyond the clipping norm
    sum0 = mechanisms.clip_scale_sum(others, np.ones(n_others), C) if n_others else np.zeros(dim)
    sum1 = mechanisms.clip_scale_sum(np.vstack([others, target]), np.r_[np.ones(n_others), weight], C)
    expected = sample_rate * n_public
    noise = np.asarray(mechanisms.gaussian_noise((2 * n_trials, dim), noise_multiplier * C, noise_rng),
                       dtype=np.float64)
    if sample_rate < 1.0:
        included = (incl_rng.random(n_trials) < sample_rate)[:, None]
    else:
        included = np.ones((n_trials, 1), dtype=bool)
    out0 = (sum0 + noise[:n_trials]) / expected
    out1 = (np.where(included, sum1, sum0) + noise[n_trials:]) / expected
    return out0, out1, (sum1 - sum0) / expected


def audit_dpsgd_step(weight, noise_multiplier, delta, *, max_grad_norm: float = 1.0, sample_rate: float = 1.0,
                     n_trials: int = 1_000_000, dim: int = 2, n_others: int = 10, n_public: int | None = None,
                     confidence: float = 0.95, rng=None) -> AuditResult:
    """Audit one weighted DP-SGD step for a record of weight ``weight``.

    Each trial is one aggregation as in :func:`redp.mechanisms.noisy_weighted_mean`:
    ``(sum_i w_i clip_C(g_i) + N(0, sigma^2 C^2 I)) / (q n_public)`` with the
    sum from :func:`redp.mechanisms.clip_scale_sum` and the noise from
    :func:`redp.mechanisms.gaussian_noise`; with ``sample_rate < 1`` the audited
    record enters each trial's batch with probability ``q`` (Poisson sampling,
    ``influence="scale"``). The other records have zero gradient and the
    audited one a gradient of norm ``10 C``: the worst-case neighbouring pair.
    The claim is redp's per-record epsilon after one step,
    ``R_q(alpha; sigma / w)`` converted at ``delta``
    (:func:`redp.accounting.per_record_epsilon`).

    Parameters
    ----------
    weight : float
        In (0, 1].
    noise_multiplier : float
        sigma, > 0.
    delta : float
        In (0, 1).
    max_grad_norm : float, default 1.0
    sample_rate : float, default 1.0
        Poisson rate q in (0, 1].
    n_trials : int, default 1_000_000
    dim : int, default 2
        Gradient dimension.
    n_others : int, default 10
    n_public : int, optional
        Public dataset size for the expected batch size (default ``n_others + 1``).
    confidence : float, default 0.95
    rng : None, "secure", int, SeedSequence or Generator

    Returns
    -------
    AuditResult

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     res = audit_dpsgd_step(0.2, noise_multiplier=0.2, delta=1e-5, n_trials=20_000, rng=2)
    >>> bool(res.epsilon_lb <= res.claimed_epsilon)
    True
    """
    from .. import accounting

    func = "audit_dpsgd_step"
    weight, delta, n_trials, confidence = _check_common(weight, delta, n_trials, confidence, func)
    sigma = check_real(noise_multiplier, "noise_multiplier", func, low=0.0, low_open=True,
                       error=PrivacyParameterError)
    C = check_real(max_grad_norm, "max_grad_norm", func, low=0.0, low_open=True)
    q = check_real(sample_rate, "sample_rate", func, low=0.0, high=1.0, low_open=True, error=PrivacyParameterError)
    dim = check_int(dim, "dim", func, low=1)
    n_others = check_int(n_others, "n_others", func, low=0)
    n_public = n_others + 1 if n_public is None else check_int(n_public, "n_public", func, low=1)
    noise_rng, incl_rng, split_rng = _streams(rng, func)
    claim = float(accounting.per_record_epsilon(np.array([weight]), delta, dpsgd=(q, sigma, 1))[0])
    out0, out1, direction = _dpsgd_trials(weight, sigma, C, q, n_trials, dim, n_others, n_public,
                                          noise_rng, incl_rng)
    s0, s1 = _project(out0, out1, direction)
    return audit_scores(s0, s1, delta=delta, confidence=confidence, claimed_epsilon=claim, rng=split_rng)
