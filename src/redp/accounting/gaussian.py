"""Privacy of one Gaussian mechanism: zCDP, RDP, GDP and the analytic (epsilon, delta).

A Gaussian mechanism adds ``N(0, sigma^2)`` to a statistic of L2 sensitivity
``Delta``. Its privacy loss is exactly that of a Gaussian shift ``mu = Delta/sigma``,
so every notion below is a function of ``mu`` alone:

* zCDP: ``rho = Delta^2 / (2 sigma^2)``; RDP: ``alpha * rho`` at every order;
  Gaussian DP: ``mu = Delta / sigma``.
* Analytic Gaussian (Balle & Wang 2018, Theorem 8): the tight
  ``delta(epsilon) = Phi(mu/2 - epsilon/mu) - e^epsilon Phi(-mu/2 - epsilon/mu)``.
  Both terms are evaluated in log space (``log Phi`` via a log-erfc that never
  underflows) and subtracted as ``Phi(a) * (-expm1(log(e^eps Phi(b)) - log Phi(a)))``,
  so deltas of 1e-15, 1e-100 or 1e-300 keep full relative precision.

Composition: ``k`` Gaussian measurements of sensitivity ``Delta`` each with the
same ``sigma`` are exactly one Gaussian with sensitivity ``Delta * sqrt(k)``.

Examples
--------
>>> from redp.accounting import gaussian_sigma, delta_for_gaussian
>>> sigma = gaussian_sigma(1.0, 1e-5)
>>> round(sigma, 10)
3.7306316348
>>> delta_for_gaussian(1.0, sigma) <= 1e-5
True
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_real
from ..errors import NumericalPrecisionError, PrivacyParameterError
from ._search import smallest_feasible
from ._special import log_ndtr

_ULP1 = 2.0**-52

__all__ = [
    "gaussian_zcdp",
    "gaussian_rdp",
    "gaussian_gdp_mu",
    "delta_for_gaussian",
    "gaussian_sigma",
]


def _check_sigma(sigma, func, name="sigma"):
    return check_real(sigma, name, func, low=0.0, low_open=True, error=PrivacyParameterError)


def _check_sensitivity(sensitivity, func):
    return check_real(sensitivity, "sensitivity", func, low=0.0, low_open=True, error=PrivacyParameterError)


def gaussian_zcdp(sigma, sensitivity=1.0) -> float:
    r"""zCDP of the Gaussian mechanism, :math:`\rho = \Delta^2 / (2\sigma^2)`.

    Parameters
    ----------
    sigma : float
        Standard deviation of the added noise, in ``(0, inf)``.
    sensitivity : float, default=1.0
        L2 sensitivity :math:`\Delta` of the statistic, in ``(0, inf)``.

    Returns
    -------
    rho : float

    Examples
    --------
    >>> gaussian_zcdp(4.0)
    0.03125
    >>> gaussian_zcdp(2.0, sensitivity=2.0)
    0.5
    """
    sigma = _check_sigma(sigma, "gaussian_zcdp")
    sensitivity = _check_sensitivity(sensitivity, "gaussian_zcdp")
    return sensitivity * sensitivity / (2.0 * sigma * sigma)


def gaussian_rdp(orders, sigma, sensitivity=1.0):
    r"""RDP curve of the Gaussian mechanism, :math:`\alpha \Delta^2 / (2\sigma^2)`.

    Parameters
    ----------
    orders : float or array_like of float
        Renyi orders, each in ``(1, inf]``.
    sigma, sensitivity : float
        As in :func:`gaussian_zcdp`.

    Returns
    -------
    rdp : float or ndarray of float64
        Same shape as ``orders``.

    Examples
    --------
    >>> gaussian_rdp([2.0, 8.0], 2.0)
    array([0.25, 1.  ])
    """
    from .rdp import _as_orders

    sigma = _check_sigma(sigma, "gaussian_rdp")
    sensitivity = _check_sensitivity(sensitivity, "gaussian_rdp")
    arr, scalar = _as_orders(orders, "gaussian_rdp")
    out = arr * (sensitivity * sensitivity / (2.0 * sigma * sigma))
    return float(out[0]) if scalar else out


def gaussian_gdp_mu(sigma, sensitivity=1.0) -> float:
    r"""Gaussian-DP parameter of the Gaussian mechanism, :math:`\mu = \Delta/\sigma`.

    Examples
    --------
    >>> gaussian_gdp_mu(4.0, sensitivity=2.0)
    0.5
    """
    sigma = _check_sigma(sigma, "gaussian_gdp_mu")
    sensitivity = _check_sensitivity(sensitivity, "gaussian_gdp_mu")
    return sensitivity / sigma


def _log_delta(epsilon: float, mu: float) -> float:
    """log delta(epsilon) of a Gaussian shift ``mu`` (Balle & Wang 2018), rounded up.

    ``delta = Phi(a) * (1 - exp(d))`` with ``d = eps + log Phi(b) - log Phi(a) < 0``.
    ``d`` carries an absolute rounding error of a few ulps of ``|log Phi|``; we
    subtract a bound on it, so the result is an upper bound (never an
    understatement) and falls back to ``log Phi(a) >= log delta`` when the two
    terms cannot be told apart.
    """
    a = mu / 2.0 - epsilon / mu
    b = -mu / 2.0 - epsilon / mu
    la = log_ndtr(a)
    lb = epsilon + log_ndtr(b)
    d = lb - la - 8.0 * _ULP1 * (abs(la) + abs(lb) + 1.0)
    if not d < 0.0:
        return la
    return la + math.log(-math.expm1(d))


def delta_for_gaussian(epsilon, sigma, sensitivity=1.0) -> float:
    r"""Tight delta of the Gaussian mechanism at a given epsilon (analytic Gaussian).

    .. math::

        \delta(\varepsilon) = \Phi\Big(\frac{\mu}{2} - \frac{\varepsilon}{\mu}\Big)
        - e^{\varepsilon}\,\Phi\Big(-\frac{\mu}{2} - \frac{\varepsilon}{\mu}\Big),
        \qquad \mu = \Delta / \sigma

    (Balle & Wang 2018, Theorem 8), evaluated in log space.

    Parameters
    ----------
    epsilon : float
        In ``[0, inf)``.
    sigma : float
        Noise standard deviation, in ``(0, inf)``.
    sensitivity : float, default=1.0
        L2 sensitivity, in ``(0, inf)``.

    Returns
    -------
    delta : float
        In ``[0, 1]``; 0.0 only when the true delta is below the smallest double.

    Examples
    --------
    >>> round(delta_for_gaussian(1.0, 3.7306316348), 12)
    1e-05
    >>> f"{delta_for_gaussian(1.0, 10.0):.6e}"
    '1.230836e-25'
    """
    epsilon = check_real(epsilon, "epsilon", "delta_for_gaussian", low=0.0, error=PrivacyParameterError)
    sigma = _check_sigma(sigma, "delta_for_gaussian")
    sensitivity = _check_sensitivity(sensitivity, "delta_for_gaussian")
    return min(1.0, math.exp(_log_delta(epsilon, sensitivity / sigma)))


def _smallest_sigma(epsilon: float, log_delta: float, sensitivity: float) -> float:
    """Smallest sigma (to the last bit) with log delta_for_gaussian <= log_delta."""

    # A relative margin of 1e-11 on delta keeps the answer safe against the last-bit
    # noise of evaluating delta at a slightly different (sigma, sensitivity) pair.
    target = log_delta - 1e-11

    def ok(s):
        return _log_delta(epsilon, sensitivity / s) <= target

    # classical sqrt(2 log(1.25/delta)) / epsilon as a starting point
    guess = sensitivity * math.sqrt(2.0 * max(math.log(1.25) - log_delta, 1e-3)) / epsilon
    return smallest_feasible(
        ok, guess, error=NumericalPrecisionError("gaussian_sigma could not bracket the noise scale.")
    )


def gaussian_sigma(epsilon, delta, sensitivity=1.0) -> float:
    r"""Smallest noise scale for which the Gaussian mechanism is (epsilon, delta)-DP.

    Inverts :func:`delta_for_gaussian` (the analytic Gaussian of Balle & Wang
    2018) by bisection on ``log(sigma)`` down to adjacent doubles; the upper end
    is returned, so ``delta_for_gaussian(epsilon, result, sensitivity) <= delta``
    always holds. Works for any ``delta`` in ``(0, 1)``, including 1e-15 and
    far below.

    Parameters
    ----------
    epsilon : float
        In ``(0, inf)``.
    delta : float
        In ``(0, 1)``.
    sensitivity : float, default=1.0
        L2 sensitivity, in ``(0, inf)``.

    Returns
    -------
    sigma : float

    Examples
    --------
    >>> round(gaussian_sigma(1.0, 1e-5), 10)
    3.7306316348
    >>> round(gaussian_sigma(1.0, 1e-5, sensitivity=2.0) / gaussian_sigma(1.0, 1e-5), 12)
    2.0
    """
    epsilon = check_real(epsilon, "epsilon", "gaussian_sigma", low=0.0, low_open=True, error=PrivacyParameterError)
    delta = check_real(delta, "delta", "gaussian_sigma", low=0.0, high=1.0, low_open=True, high_open=True,
                       error=PrivacyParameterError)
    sensitivity = _check_sensitivity(sensitivity, "gaussian_sigma")
    return _smallest_sigma(epsilon, math.log(delta), sensitivity)


def _composed_sensitivity(sensitivity: float, n: int) -> float:
    """sensitivity * sqrt(n) rounded up (so the composed mechanism is never understated)."""
    s = sensitivity * math.sqrt(n)
    return float(np.nextafter(s, np.inf)) if n > 1 else s
