"""Maps from risk scores to per-record weights in ``[w_min, 1]``.

A weight ``w_i`` scales record i's contribution to every stage-2 statistic, so
its per-record privacy loss shrinks (``rho_i = rho_1 + w_i**2 * rho_2`` for
full-batch Gaussian measurements). Every map here is *record-local*: ``w_i``
depends only on ``s_i`` and on public or already-released quantities (``tau`` is
a quantile of the DP reference scores, never of the private data), so removing
record j changes no other record's weight. No map normalises over the data.

Examples
--------
>>> import numpy as np
>>> from redp.weights import inverse_weights
>>> inverse_weights(np.array([0.5, 1.0, 2.0, 10.0]), tau=1.0, w_min=0.2)
array([1. , 1. , 0.5, 0.2])
"""

from __future__ import annotations

import numpy as np

from ._validation import as_generator, check_real
from .errors import InputTypeError, ParameterError

__all__ = [
    "inverse_weights",
    "exponential_weights",
    "sigmoid_weights",
    "uniform_weights",
    "random_weights",
    "equalize_weights",
    "WEIGHTINGS",
]


def _scores(scores, func: str) -> np.ndarray:
    s = np.asarray(scores)
    if s.dtype.kind not in "fiu":
        raise InputTypeError(f"The 'scores' parameter of {func} must be numeric. Got dtype {s.dtype} instead.")
    s = s.astype(np.float64, copy=False)
    if s.ndim != 1:
        raise ParameterError(f"The 'scores' parameter of {func} must be 1-D. Got shape {s.shape} instead.")
    bad = ~np.isfinite(s) | (s < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParameterError(
            f"The 'scores' parameter of {func} must be finite and >= 0. Got {float(s[i])!r} at index {i} instead."
        )
    return s


def _w_min(w_min, func: str) -> float:
    return check_real(w_min, "w_min", func, low=0.0, high=1.0, low_open=True)


def _tau(tau, func: str) -> float:
    return check_real(tau, "tau", func, low=0.0, low_open=True)


def inverse_weights(scores, tau: float, *, gamma: float = 1.0, w_min: float = 0.2) -> np.ndarray:
    r"""Inverse-risk weights, the REPS default.

    .. math:: w_i = \operatorname{clip}\big((\tau / s_i)^\gamma,\ w_{\min},\ 1\big)

    Records scoring at or below ``tau`` keep weight 1; a record scoring ``c``
    times ``tau`` gets ``c**-gamma``, never below ``w_min`` (the cap on extra
    protection: at most ``1/w_min`` times less influence).

    Parameters
    ----------
    scores : array_like of shape (n,)
        Non-negative risk scores, larger = more outlying.
    tau : float
        Public threshold (a quantile of the DP reference scores), > 0.
    gamma : float, default 1.0
        Exponent, > 0.
    w_min : float, default 0.2
        Smallest weight, in (0, 1].

    Returns
    -------
    ndarray of float64, shape (n,)

    Examples
    --------
    >>> inverse_weights([1.0, 4.0], tau=2.0, gamma=0.5, w_min=0.1)
    array([1.        , 0.70710678])
    """
    func = "inverse_weights"
    s = _scores(scores, func)
    tau = _tau(tau, func)
    gamma = check_real(gamma, "gamma", func, low=0.0, low_open=True)
    w_min = _w_min(w_min, func)
    with np.errstate(divide="ignore"):
        w = np.where(s > tau, (tau / np.maximum(s, 1e-300)) ** gamma, 1.0)
    return np.clip(w, w_min, 1.0)


def exponential_weights(scores, tau: float, *, rate: float = 1.0, w_min: float = 0.2) -> np.ndarray:
    r"""Exponentially decaying weights above ``tau``.

    .. math:: w_i = \operatorname{clip}\big(e^{-\lambda (s_i/\tau - 1)},\ w_{\min},\ 1\big)

    Examples
    --------
    >>> exponential_weights([1.0, 2.0], tau=1.0, rate=1.0, w_min=0.1).round(4)
    array([1.    , 0.3679])
    """
    func = "exponential_weights"
    s = _scores(scores, func)
    tau = _tau(tau, func)
    rate = check_real(rate, "rate", func, low=0.0, low_open=True)
    w_min = _w_min(w_min, func)
    return np.clip(np.exp(-rate * np.maximum(s / tau - 1.0, 0.0)), w_min, 1.0)


def sigmoid_weights(scores, tau: float, *, temperature: float = 0.25, w_min: float = 0.2) -> np.ndarray:
    r"""Smooth step from 1 down to ``w_min`` centred at ``tau``.

    .. math:: w_i = w_{\min} + (1 - w_{\min})\,\sigma\!\left(-\frac{s_i - \tau}{T\,\tau}\right)

    Examples
    --------
    >>> sigmoid_weights([1.0], tau=1.0, w_min=0.2)
    array([0.6])
    """
    func = "sigmoid_weights"
    s = _scores(scores, func)
    tau = _tau(tau, func)
    temperature = check_real(temperature, "temperature", func, low=0.0, low_open=True)
    w_min = _w_min(w_min, func)
    z = (s - tau) / (temperature * tau)
    return w_min + (1.0 - w_min) / (1.0 + np.exp(np.clip(z, -700, 700)))


def uniform_weights(n: int) -> np.ndarray:
    """All-ones weights: the ordinary (unweighted) DP synthesizer.

    Examples
    --------
    >>> uniform_weights(3)
    array([1., 1., 1.])
    """
    from ._validation import check_int

    return np.ones(check_int(n, "n", "uniform_weights", low=0), dtype=np.float64)


def random_weights(weights, rng) -> np.ndarray:
    """The same multiset of weights assigned by a seeded random permutation.

    The paper's ablation control: as much total down-weighting as REPS, but not
    aimed at the outliers.

    Examples
    --------
    >>> w = random_weights([1.0, 0.5, 0.2], rng=0)
    >>> sorted(w.tolist())
    [0.2, 0.5, 1.0]
    """
    w = np.asarray(weights, dtype=np.float64)
    return as_generator(rng, "random_weights").permutation(w)


def equalize_weights(
    scores,
    tau: float,
    delta: float,
    *,
    w_min: float = 0.2,
    full_batch_rho: float | None = None,
    dpsgd: tuple[float, float, int] | None = None,
    uniform_rho: float = 0.0,
    grid: int = 256,
) -> np.ndarray:
    r"""Per-record noise calibration: equalise ``epsilon_i * s_i / tau`` above ``tau``.

    Inverts the per-record accountant: a record scoring ``s_i > tau`` gets the
    largest grid weight whose per-record epsilon is at most
    ``epsilon(1) * tau / s_i`` (clipped to ``[w_min, 1]``). For subsampled
    DP-SGD the accountant is non-linear in ``w``, so this is a vectorised root
    find: the per-record epsilon is evaluated once on the public grid
    ``{j / grid}`` (monotone in ``w``) and each record's target is located by
    binary search. Rounding is down the grid, so a record's epsilon never exceeds
    its target (except where clipped at ``w_min``).

    Parameters
    ----------
    scores : array_like of shape (n,)
    tau : float
        Public threshold, > 0.
    delta : float
        The delta at which per-record epsilons are compared.
    w_min : float, default 0.2
    full_batch_rho : float, optional
        zCDP of the weighted full-batch measurements at weight 1.
    dpsgd : (q, noise_multiplier, steps), optional
        Poisson-subsampled DP-SGD parameters.
    uniform_rho : float, default 0.0
        zCDP spent by unweighted mechanisms (stage 1).
    grid : int, default 256
        Public weight grid.

    Returns
    -------
    ndarray of float64, shape (n,), values on the grid in ``[w_min, 1]``.

    Examples
    --------
    >>> w = equalize_weights([0.5, 1.0, 2.0], tau=1.0, delta=1e-6, full_batch_rho=0.5)
    >>> w[:2].tolist(), bool(0.2 <= w[2] < 1.0)
    ([1.0, 1.0], True)
    """
    from .accounting import per_record_epsilon

    func = "equalize_weights"
    s = _scores(scores, func)
    tau = _tau(tau, func)
    w_min = _w_min(w_min, func)
    if (full_batch_rho is None) == (dpsgd is None):
        raise ParameterError(f"{func} needs exactly one of 'full_batch_rho' or 'dpsgd'.")
    levels = np.arange(grid + 1, dtype=np.float64) / grid
    kwargs = dict(full_batch=full_batch_rho, dpsgd=dpsgd, uniform_rho=uniform_rho, grid=grid)
    eps_grid = np.asarray(per_record_epsilon(levels, delta, **kwargs), dtype=np.float64)
    eps_grid = np.maximum.accumulate(eps_grid)  # guard monotonicity against rounding
    target = eps_grid[-1] * np.minimum(1.0, tau / np.maximum(s, 1e-300))
    idx = np.searchsorted(eps_grid, target, side="right") - 1
    w = levels[np.clip(idx, 0, grid)]
    return np.clip(w, w_min, 1.0)


WEIGHTINGS = ("inverse", "exponential", "sigmoid", "uniform", "random", "equalize")
