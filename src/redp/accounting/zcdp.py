"""zCDP <-> (epsilon, delta) conversions.

The Canonne-Kamath-Steinke (2020, Corollary 13) bound: a rho-zCDP mechanism is
(epsilon, delta)-DP for every ``alpha > 1`` with

.. math::

    \\delta = \\frac{\\exp\\big((\\alpha-1)(\\alpha\\rho - \\varepsilon)\\big)}{\\alpha - 1}
              \\Big(1 - \\frac{1}{\\alpha}\\Big)^{\\alpha}
    \\quad\\Longleftrightarrow\\quad
    \\varepsilon = \\alpha\\rho - \\frac{\\log\\delta + \\log\\alpha}{\\alpha - 1}
                   + \\log\\Big(1 - \\frac{1}{\\alpha}\\Big).

Both are optimised over alpha exactly: the derivative in alpha of the delta
exponent is ``(2 alpha - 1) rho - eps + log(1 - 1/alpha)`` and of epsilon is
``rho + (log alpha + log delta) / (alpha - 1)^2``; each is increasing, so the
optimum is the unique root, found by bisection to adjacent doubles. Any alpha
gives a valid bound, so the search itself needs no conservative rounding; the
final evaluation is rounded up by a bound on its floating-point error (a few
ulps), so results are never below the exact bound (compare OpenDP's
``cdp_epsilon``, which rounds the same way).
Bun & Steinke (2016) ``rho + 2 sqrt(rho log(1/delta))`` is kept for reference.

Examples
--------
>>> from redp.accounting import zcdp_to_epsilon, zcdp_to_delta, epsilon_to_zcdp
>>> round(zcdp_to_epsilon(1 / 32, 1e-3), 12)
0.688002455488
>>> round(zcdp_to_delta(0.05, 0.25), 12)
0.081772753104
>>> rho = epsilon_to_zcdp(1.0, 1e-6)
>>> zcdp_to_epsilon(rho, 1e-6) <= 1.0
True
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .._validation import check_real
from ..errors import PrivacyParameterError

__all__ = [
    "zcdp_to_epsilon",
    "zcdp_to_delta",
    "zcdp_to_epsilon_bun_steinke",
    "epsilon_to_zcdp",
]

_ALPHA_MIN_OFFSET = 1e-12  # alpha is searched in (1 + 1e-12, ...)
_PAD = 4.0 * 2.0**-52  # results are rounded against us: a few ulps of the terms


@numba.njit(cache=True)
def _eps_at(rho, log_delta, alpha):
    # rounded up by a bound on the floating-point error of the three terms
    t1 = alpha * rho
    t2 = -(log_delta + math.log(alpha)) / (alpha - 1.0)
    t3 = math.log1p(-1.0 / alpha)
    return (t1 + t2 + t3) + _PAD * (abs(t1) + abs(t2) + abs(t3))


@numba.njit(cache=True)
def _cks_epsilon_one(rho, log_delta):
    if rho == 0.0:
        return 0.0
    # g(alpha) = rho (alpha-1)^2 + log alpha + log delta is increasing; bisect u = log(alpha - 1)
    lo = math.log(_ALPHA_MIN_OFFSET)
    hi = 0.5 * math.log(-log_delta / rho) + 1e-9
    if hi < lo:
        hi = lo + 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if not (lo < mid < hi):
            break
        am1 = math.exp(mid)
        if rho * am1 * am1 + math.log1p(am1) + log_delta > 0.0:
            hi = mid
        else:
            lo = mid
    e_lo = _eps_at(rho, log_delta, 1.0 + math.exp(lo))
    e_hi = _eps_at(rho, log_delta, 1.0 + math.exp(hi))
    eps = min(e_lo, e_hi)
    return max(eps, 0.0)


@numba.njit(cache=True)
def cks_epsilon(rhos, log_delta):
    out = np.empty(rhos.shape[0], dtype=np.float64)
    for k in range(rhos.shape[0]):
        out[k] = _cks_epsilon_one(rhos[k], log_delta)
    return out


@numba.njit(cache=True)
def _log_delta_at(rho, eps, alpha):
    t1 = (alpha - 1.0) * (alpha * rho - eps)
    t2 = alpha * math.log1p(-1.0 / alpha)
    t3 = -math.log(alpha - 1.0)
    return (t1 + t2 + t3) + _PAD * (abs(t1) + abs(t2) + abs(t3) + abs((alpha - 1.0) * eps))


@numba.njit(cache=True)
def _cks_log_delta_one(rho, eps):
    if rho == 0.0:
        return -np.inf
    lo = 1.0 + _ALPHA_MIN_OFFSET
    hi = (eps + 1.0) / (2.0 * rho) + 2.0
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if not (lo < mid < hi):
            break
        if (2.0 * mid - 1.0) * rho - eps + math.log1p(-1.0 / mid) > 0.0:
            hi = mid
        else:
            lo = mid
    return min(min(_log_delta_at(rho, eps, lo), _log_delta_at(rho, eps, hi)), 0.0)


def _check_rho0(rho, func):
    return check_real(rho, "rho", func, low=0.0, error=PrivacyParameterError)


def _check_delta01(delta, func):
    return check_real(delta, "delta", func, low=0.0, high=1.0, low_open=True, high_open=True,
                      error=PrivacyParameterError)


def zcdp_to_epsilon(rho, delta) -> float:
    r"""epsilon of a rho-zCDP mechanism at a given delta (Canonne-Kamath-Steinke 2020).

    .. math::

        \varepsilon(\rho, \delta) = \min_{\alpha > 1}\; \alpha\rho
            - \frac{\log\delta + \log\alpha}{\alpha - 1} + \log\Big(1 - \frac1\alpha\Big)

    clamped at 0 (an (epsilon < 0, delta) guarantee implies (0, delta)).

    Parameters
    ----------
    rho : float
        zCDP parameter, in ``[0, inf)``.
    delta : float
        In ``(0, 1)``.

    Returns
    -------
    epsilon : float

    Examples
    --------
    >>> round(zcdp_to_epsilon(1 / 32, 1e-3), 12)
    0.688002455488
    >>> zcdp_to_epsilon(0.0, 1e-6)
    0.0
    """
    rho = _check_rho0(rho, "zcdp_to_epsilon")
    delta = _check_delta01(delta, "zcdp_to_epsilon")
    return float(_cks_epsilon_one(rho, math.log(delta)))


def zcdp_to_delta(rho, epsilon) -> float:
    r"""delta of a rho-zCDP mechanism at a given epsilon (Canonne-Kamath-Steinke 2020).

    .. math::

        \delta(\rho, \varepsilon) = \min_{\alpha > 1}
            \frac{e^{(\alpha-1)(\alpha\rho - \varepsilon)}}{\alpha - 1}\Big(1 - \frac1\alpha\Big)^\alpha

    capped at 1.

    Parameters
    ----------
    rho : float
        In ``[0, inf)``.
    epsilon : float
        In ``[0, inf)``.

    Returns
    -------
    delta : float

    Examples
    --------
    >>> round(zcdp_to_delta(0.05, 0.25), 12)
    0.081772753104
    """
    rho = _check_rho0(rho, "zcdp_to_delta")
    epsilon = check_real(epsilon, "epsilon", "zcdp_to_delta", low=0.0, error=PrivacyParameterError)
    return float(math.exp(_cks_log_delta_one(rho, epsilon)))


def zcdp_to_epsilon_bun_steinke(rho, delta) -> float:
    r"""The Bun-Steinke (2016) conversion :math:`\rho + 2\sqrt{\rho\log(1/\delta)}`.

    Looser than :func:`zcdp_to_epsilon`; kept for comparison with papers that use it.

    Examples
    --------
    >>> zcdp_to_epsilon_bun_steinke(0.5, math.exp(-2.0))
    2.5
    """
    rho = _check_rho0(rho, "zcdp_to_epsilon_bun_steinke")
    delta = _check_delta01(delta, "zcdp_to_epsilon_bun_steinke")
    return rho + 2.0 * math.sqrt(rho * -math.log(delta))


def epsilon_to_zcdp(epsilon, delta) -> float:
    r"""Largest rho whose CKS epsilon at ``delta`` does not exceed ``epsilon``.

    Bisection on ``log(rho)`` down to adjacent doubles, returning the lower end,
    so ``zcdp_to_epsilon(epsilon_to_zcdp(eps, delta), delta) <= eps`` always holds
    (never overshoots).

    Parameters
    ----------
    epsilon : float
        Target epsilon, in ``(0, inf)``.
    delta : float
        In ``(0, 1)``.

    Returns
    -------
    rho : float

    Examples
    --------
    >>> rho = epsilon_to_zcdp(1.0, 1e-5)
    >>> round(rho, 6)
    0.030557
    >>> zcdp_to_epsilon(rho, 1e-5) <= 1.0 < zcdp_to_epsilon(rho * (1 + 1e-9), 1e-5)
    True
    """
    epsilon = check_real(epsilon, "epsilon", "epsilon_to_zcdp", low=0.0, low_open=True, error=PrivacyParameterError)
    delta = _check_delta01(delta, "epsilon_to_zcdp")
    return float(_largest_rho(epsilon, math.log(delta)))


@numba.njit(cache=True)
def _largest_rho(epsilon, log_delta):
    # Bun-Steinke is looser than CKS, so its rho is feasible: sqrt(rho) = sqrt(L + eps) - sqrt(L)
    big_l = -log_delta
    r = math.sqrt(big_l + epsilon) - math.sqrt(big_l)
    lo = r * r
    for _ in range(2100):
        if _cks_epsilon_one(lo, log_delta) <= epsilon:
            break
        lo *= 0.5
    hi = lo * 2.0
    for _ in range(2100):
        if _cks_epsilon_one(hi, log_delta) > epsilon:
            break
        lo = hi
        hi *= 2.0
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if not (lo < mid < hi):
            break
        if _cks_epsilon_one(mid, log_delta) <= epsilon:
            lo = mid
        else:
            hi = mid
    return lo
