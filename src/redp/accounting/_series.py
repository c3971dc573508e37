"""Numba kernels for the RDP of the Poisson-subsampled Gaussian (private).

Pure functions of floats and arrays; no validation here (the public wrappers in
:mod:`redp.accounting.rdp` validate). Every kernel returns NaN instead of a
number it cannot vouch for, and the caller turns NaN into
:class:`~redp.errors.NumericalPrecisionError`.

Mathematics (Mironov, Talwar, Zhang 2019, "Renyi Differential Privacy of the
Sampled Gaussian Mechanism", add/remove neighbours, Poisson rate ``q``, noise
multiplier ``sigma``): the RDP at order ``alpha`` is ``log(A_alpha)/(alpha-1)``
with ``A_alpha = E_{z~N(0, sigma^2)}[(1 - q + q exp((2z - 1)/(2 sigma^2)))^alpha]``.

* Integer ``alpha``: the finite binomial sum. Because the binomial weights sum
  to one, ``A - 1 = sum_{k>=2} C(alpha,k) (1-q)^(alpha-k) q^k expm1((k^2-k)/(2 sigma^2))``,
  a sum of positive terms, so tiny RDP values keep full relative precision.
* Fractional ``alpha``: ``A = sum_i binom(alpha, i) (T0_i + T1_i)`` (generalised
  binomial coefficients, signs kept) with the integral split at
  ``z0 = sigma^2 log(1/q - 1) + 1/2``:
  ``T0_i = q^i (1-q)^(alpha-i) exp((i^2-i)/(2 sigma^2)) erfc((i - z0)/(sqrt2 sigma))/2`` and
  ``T1_i`` the same with ``i`` and ``j = alpha - i`` swapped in the powers and
  exponent and ``erfc((z0 - j)/(sqrt2 sigma))/2``. Where the erfc argument ``x`` is
  positive the large exponents cancel exactly:
  ``log T = alpha log(1-q) - z0^2/(2 sigma^2) + log(erfcx(x)/2)``.
  For ``i > alpha`` both series alternate in sign and the magnitudes fall
  strictly (the ratio of consecutive magnitudes is ``(i-alpha)/(i+1)`` times
  ``erfcx(x+h)/erfcx(x) < 1``), so the tail after the last term kept is bounded
  by that term's magnitude; we add it, making the result an upper bound. The
  sum stops once the terms fall below ``2**-56`` of the running total, and
  ``log A`` is padded by ``2**-50`` to cover the log-space rounding (checked
  against 30-40 digit quadrature), so even RDP values near 1e-12 are never
  understated.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._special import log_erfc, log_erfcx

_LOG_HALF = math.log(0.5)
_LOG_TOL = math.log(2.0**-56)  # stop when the next terms are below 1.4e-17 of A
_MAX_TERMS = 5_000_000
# Log-space summation leaves an absolute error of a few 1e-17 in log(A) for the
# fractional series (measured against 30-digit quadrature); we add this pad so
# the result stays an upper bound even when the RDP itself is ~1e-12.
_LOG_A_PAD = 2.0**-50


@numba.njit(cache=True)
def _log_add(a, b):
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


@numba.njit(cache=True)
def _log_expm1(x):
    """log(exp(x) - 1) for x > 0."""
    if x > 1.0:
        return x + math.log1p(-math.exp(-x))
    return math.log(math.expm1(x))


@numba.njit(cache=True)
def _rdp_int(q, sigma, alpha):
    """RDP at an integer order alpha >= 2 (0 < q < 1)."""
    n = int(alpha)
    log_q = math.log(q)
    log_1mq = math.log1p(-q)
    two_s2 = 2.0 * sigma * sigma
    log_am1 = -np.inf  # log(A - 1)
    log_coef = math.log(n * (n - 1) / 2.0)  # log C(n, 2)
    for k in range(2, n + 1):
        if k > 2:
            log_coef += math.log((n - k + 1) / k)
        t = log_coef + k * log_q + (n - k) * log_1mq + _log_expm1((k * k - k) / two_s2)
        log_am1 = _log_add(log_am1, t)
    # log A = log1p(exp(log(A - 1)))
    if log_am1 < 0.0:
        log_a = math.log1p(math.exp(log_am1))
    else:
        log_a = log_am1 + math.log1p(math.exp(-log_am1))
    return log_a / (alpha - 1.0)


@numba.njit(cache=True)
def _rdp_frac(q, sigma, alpha):
    """RDP at a fractional order alpha > 1 (0 < q < 1); NaN on numerical failure."""
    log_q = math.log(q)
    log_1mq = math.log1p(-q)
    s2 = sigma * sigma
    two_s2 = 2.0 * s2
    z0 = s2 * (log_1mq - log_q) + 0.5
    inv = 1.0 / (math.sqrt(2.0) * sigma)
    k_const = alpha * log_1mq - z0 * z0 / two_s2 + _LOG_HALF
    pos = -np.inf
    neg = -np.inf
    log_coef = 0.0
    sign = 1.0
    i = 0
    tail = -np.inf
    while True:
        fi = float(i)
        j = alpha - fi
        x0 = (fi - z0) * inv
        if x0 > 0.0:
            lt0 = log_coef + k_const + log_erfcx(x0)
        else:
            lt0 = log_coef + fi * log_q + j * log_1mq + (fi * fi - fi) / two_s2 + _LOG_HALF + log_erfc(x0)
        x1 = (z0 - j) * inv
        if x1 > 0.0:
            lt1 = log_coef + k_const + log_erfcx(x1)
        else:
            lt1 = log_coef + j * log_q + fi * log_1mq + (j * j - j) / two_s2 + _LOG_HALF + log_erfc(x1)
        lt = _log_add(lt0, lt1)
        if sign > 0.0:
            pos = _log_add(pos, lt)
        else:
            neg = _log_add(neg, lt)
        if fi > alpha and lt < pos + _LOG_TOL:
            tail = lt
            break
        c = alpha - fi  # binom(alpha, i + 1) = binom(alpha, i) * (alpha - i) / (i + 1)
        if c < 0.0:
            sign = -sign
        log_coef += math.log(abs(c)) - math.log(fi + 1.0)
        i += 1
        if i > _MAX_TERMS or not math.isfinite(lt):
            return np.nan
    if not neg < pos:
        return np.nan
    log_a = pos + math.log1p(-math.exp(neg - pos))
    log_a = _log_add(log_a, tail)  # alternating-series tail bound: result is an upper bound
    log_a += _LOG_A_PAD
    if not log_a >= 0.0:
        # A >= 1 always (a Renyi divergence is non-negative); a negative log is
        # rounding below exact zero, which we refuse to pass on as "no privacy loss".
        if log_a > -1e-15:
            log_a = 0.0
        else:
            return np.nan
    return log_a / (alpha - 1.0)


@numba.njit(cache=True)
def rdp_one(q, sigma, alpha):
    """RDP of one step at one order; NaN when it cannot be computed reliably."""
    if q == 0.0:
        return 0.0
    if alpha == np.inf:
        return np.inf
    if q == 1.0:
        return alpha / (2.0 * sigma * sigma)
    if alpha == math.floor(alpha) and alpha < 9.007199254740992e15:
        return _rdp_int(q, sigma, alpha)
    return _rdp_frac(q, sigma, alpha)


@numba.njit(cache=True)
def rdp_orders(q, sigma, orders):
    """One-step RDP at every order (1-D float64 array in, same shape out)."""
    out = np.empty(orders.shape[0], dtype=np.float64)
    for a in range(orders.shape[0]):
        out[a] = rdp_one(q, sigma, orders[a])
    return out


@numba.njit(cache=True)
def rdp_grid(q, sigmas, orders):
    """One-step RDP for every (sigma, order) pair: shape (len(sigmas), len(orders))."""
    out = np.empty((sigmas.shape[0], orders.shape[0]), dtype=np.float64)
    for s in range(sigmas.shape[0]):
        for a in range(orders.shape[0]):
            out[s, a] = rdp_one(q, sigmas[s], orders[a])
    return out
