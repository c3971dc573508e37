"""Noise calibration: the smallest noise that meets a privacy target.

Every calibrator brackets the answer and bisects on ``log(sigma)``, returning
the *upper* end of the final bracket, so the returned noise never yields more
than the target; the bracket is narrowed to adjacent doubles (Gaussian) or to a
relative width of 1e-9 (DP-SGD), far inside the 0.1% promised.

* :func:`calibrate_gaussian` -- ``k`` full-batch Gaussian measurements of
  sensitivity ``Delta`` with one shared ``sigma`` are exactly one Gaussian of
  sensitivity ``Delta sqrt(k)``; we use the analytic Gaussian (the tightest).
* :func:`calibrate_gaussian_zcdp` -- the same measurements under a zCDP budget
  ``rho`` (closed form ``Delta sqrt(k / (2 rho))``, nudged up so the ledger sum
  of the ``k`` spends never exceeds ``rho``).
* :func:`calibrate_dpsgd` -- Poisson-subsampled Gaussian over ``steps`` steps,
  RDP accounting over the given orders.

Examples
--------
>>> from redp.accounting import calibrate_gaussian, calibrate_dpsgd
>>> round(calibrate_gaussian(1.0, 1e-5), 6)
3.730632
>>> round(calibrate_dpsgd(8.0, 1e-5, 0.04, 2250), 4)
1.4158
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_int, check_real
from ..errors import BudgetExceededError, PrivacyParameterError
from . import _series
from ._search import smallest_feasible
from .gaussian import _check_sensitivity, _composed_sensitivity, _smallest_sigma, gaussian_zcdp
from .rdp import DEFAULT_ORDERS, _as_orders, _eps_matrix, _raise_nan

__all__ = ["calibrate_gaussian", "calibrate_gaussian_zcdp", "calibrate_dpsgd"]


def _check_eps_delta(epsilon, delta, func):
    epsilon = check_real(epsilon, "epsilon", func, low=0.0, low_open=True, error=PrivacyParameterError)
    delta = check_real(delta, "delta", func, low=0.0, high=1.0, low_open=True, high_open=True,
                       error=PrivacyParameterError)
    return epsilon, delta


def calibrate_gaussian(epsilon, delta, n_measurements=1, sensitivity=1.0) -> float:
    r"""Smallest sigma for ``n_measurements`` Gaussian measurements to be (epsilon, delta)-DP.

    ``k`` measurements of L2 sensitivity :math:`\Delta` each, all with noise
    ``N(0, sigma^2)``, compose exactly into one Gaussian of sensitivity
    :math:`\Delta\sqrt{k}`; the analytic Gaussian (Balle & Wang 2018) gives the
    tight delta. The result satisfies
    ``delta_for_gaussian(epsilon, sigma, sensitivity * sqrt(k)) <= delta``.

    Parameters
    ----------
    epsilon : float
        In ``(0, inf)``.
    delta : float
        In ``(0, 1)``.
    n_measurements : int, default=1
        Number of measurements ``k``, in ``[1, inf)``.
    sensitivity : float, default=1.0
        L2 sensitivity of each measurement.

    Returns
    -------
    sigma : float

    Examples
    --------
    >>> s1 = calibrate_gaussian(1.0, 1e-5)
    >>> s4 = calibrate_gaussian(1.0, 1e-5, n_measurements=4)
    >>> abs(s4 / s1 - 2.0) < 1e-12
    True
    """
    func = "calibrate_gaussian"
    epsilon, delta = _check_eps_delta(epsilon, delta, func)
    k = check_int(n_measurements, "n_measurements", func, low=1)
    sensitivity = _check_sensitivity(sensitivity, func)
    return _smallest_sigma(epsilon, math.log(delta), _composed_sensitivity(sensitivity, k))


def calibrate_gaussian_zcdp(rho, n_measurements=1, sensitivity=1.0) -> float:
    r"""Smallest sigma whose ``n_measurements`` Gaussian spends fit in a zCDP budget ``rho``.

    Closed form :math:`\sigma = \Delta\sqrt{k/(2\rho)}`, then nudged up (by a
    few ulps) until ``k * gaussian_zcdp(sigma, sensitivity)`` and the running
    floating-point sum of ``k`` such spends are both ``<= rho``, so a
    :class:`~redp.accounting.PrivacyLedger` holding exactly ``rho`` accepts all
    ``k`` spends.

    Parameters
    ----------
    rho : float
        zCDP budget for all measurements together, in ``(0, inf)``.
    n_measurements : int, default=1
    sensitivity : float, default=1.0

    Returns
    -------
    sigma : float

    Examples
    --------
    >>> sigma = calibrate_gaussian_zcdp(0.5, n_measurements=3)
    >>> round(sigma, 9)
    1.732050808
    >>> 3 * gaussian_zcdp(sigma) <= 0.5
    True
    """
    func = "calibrate_gaussian_zcdp"
    rho = check_real(rho, "rho", func, low=0.0, low_open=True, error=PrivacyParameterError)
    k = check_int(n_measurements, "n_measurements", func, low=1)
    sensitivity = _check_sensitivity(sensitivity, func)
    sigma = sensitivity * math.sqrt(k / (2.0 * rho))

    def fits(s):
        one = gaussian_zcdp(s, sensitivity)
        if k * one > rho:
            return False
        if k <= 100_000:
            total = 0.0
            for _ in range(k):
                total += one
            return total <= rho
        # sequential rounding error is at most k ulps: demand that much slack
        return k * one * (1.0 + k * 2.0**-52) <= rho

    for attempt in range(10_000):
        if fits(sigma):
            return sigma
        sigma = float(np.nextafter(sigma, np.inf)) if attempt < 64 else sigma * (1.0 + 2.0**-40)
    raise PrivacyParameterError(  # pragma: no cover - needs absurd inputs
        f"calibrate_gaussian_zcdp could not fit {k} measurements into rho={rho!r}."
    )


def _dpsgd_epsilon(q, sigma, steps, orders, log_delta, func="calibrate_dpsgd", prior_rdp=0.0):
    one = _series.rdp_orders(q, sigma, orders)
    if np.isnan(one).any():
        _raise_nan(func, q, sigma, orders, one)
    eps = _eps_matrix(orders, (steps * one + prior_rdp)[None, :], log_delta)[0]
    return max(float(np.min(eps)), 0.0)


def calibrate_dpsgd(epsilon, delta, q, steps, orders=DEFAULT_ORDERS, *, prior_rho=0.0) -> float:
    r"""Smallest noise multiplier for ``steps`` steps of DP-SGD to be (epsilon, delta)-DP.

    ``prior_rho`` is zCDP already spent (e.g. on private scoring); it enters the
    composition as the RDP curve ``alpha * prior_rho`` before conversion.

    Accounting: Poisson-subsampled Gaussian RDP at rate ``q`` (add/remove,
    :func:`~redp.accounting.subsampled_gaussian_rdp`), converted with
    :func:`~redp.accounting.rdp_to_epsilon` over ``orders``. Bisection on
    ``log(sigma)`` to a relative width of 1e-9, returning the upper end, so
    ``rdp_to_epsilon(orders, subsampled_gaussian_rdp(q, sigma, steps, orders), delta)[0] <= epsilon``.

    Parameters
    ----------
    epsilon : float
        In ``(0, inf)``.
    delta : float
        In ``(0, 1)``.
    q : float
        Sampling rate, in ``(0, 1]``.
    steps : int
        In ``[1, inf)``.
    orders : array_like of float, default=DEFAULT_ORDERS
    prior_rho : float, default 0.0
        zCDP spent before DP-SGD, ``>= 0``.

    Returns
    -------
    noise_multiplier : float

    Raises
    ------
    BudgetExceededError
        If ``prior_rho`` alone already uses up ``epsilon`` at ``delta``.

    Examples
    --------
    >>> sigma = calibrate_dpsgd(1.0, 1e-5, 0.01, 1000)
    >>> round(sigma, 4)
    1.5131
    """
    func = "calibrate_dpsgd"
    epsilon, delta = _check_eps_delta(epsilon, delta, func)
    q = check_real(q, "q", func, low=0.0, high=1.0, low_open=True, error=PrivacyParameterError)
    steps = check_int(steps, "steps", func, low=1)
    prior_rho = check_real(prior_rho, "prior_rho", func, low=0.0, error=PrivacyParameterError)
    arr, _ = _as_orders(orders, func)
    log_delta = math.log(delta)
    prior_rdp = arr * prior_rho
    if prior_rho > 0.0:
        floor = float(np.min(_eps_matrix(arr, prior_rdp[None, :], log_delta)[0]))
        if floor >= epsilon:
            raise BudgetExceededError(
                f"The 'prior_rho' parameter of {func} already spends epsilon = {floor:.6g} at delta = {delta:g}, "
                f"which leaves nothing of epsilon = {epsilon:g} for DP-SGD. Lower prior_rho or raise epsilon."
            )

    def ok(s):
        return _dpsgd_epsilon(q, s, steps, arr, log_delta, func, prior_rdp) <= epsilon

    return smallest_feasible(ok, 1.0, rtol=1e-9, max_steps=200, error=PrivacyParameterError(
        f"{func} found no noise multiplier for epsilon={epsilon!r}, delta={delta!r}, "
        f"q={q!r}, steps={steps!r} over the given orders (try more or larger orders)."
    ))
