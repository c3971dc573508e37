"""Renyi DP of the Poisson-subsampled Gaussian (DP-SGD) and RDP -> (epsilon, delta).

``subsampled_gaussian_rdp`` evaluates Mironov, Talwar & Zhang (2019) exactly,
at integer and fractional orders, in log space, keeping the signs of the
generalised binomial coefficients (the series and its error control are
documented in :mod:`redp.accounting._series`). Results are upper bounds: the
alternating tail is bounded by the last term kept and added. At fractional
orders this is tighter than libraries that add the absolute values of the
terms (dp-accounting >= 0.4 does so, which is a valid but looser bound);
at integer orders the two agree to rounding.

``rdp_to_epsilon`` uses the improved conversion (Balle et al. 2020, Canonne,
Kamath & Steinke 2020):
``eps(alpha) = rdp(alpha) - (log delta + log alpha)/(alpha - 1) + log((alpha - 1)/alpha)``,
minimised over the given orders.

Examples
--------
>>> from redp.accounting import subsampled_gaussian_rdp, rdp_to_epsilon, DEFAULT_ORDERS
>>> rdp = subsampled_gaussian_rdp(0.04, 1.5, 2250, DEFAULT_ORDERS)
>>> eps, order = rdp_to_epsilon(DEFAULT_ORDERS, rdp, 1e-5)
>>> round(eps, 4), order
(7.3291, 3.9)
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_int, check_real
from ..errors import InputTypeError, NumericalPrecisionError, PrivacyParameterError
from . import _series

__all__ = ["DEFAULT_ORDERS", "subsampled_gaussian_rdp", "rdp_to_epsilon"]

#: Opacus' default Renyi orders: 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63.
DEFAULT_ORDERS: tuple = tuple([1 + x / 10.0 for x in range(1, 100)] + [float(a) for a in range(12, 64)])


def _as_orders(orders, func):
    """orders -> (1-D float64 C array, was_scalar); each order in (1, inf]."""
    scalar = np.ndim(orders) == 0
    try:
        arr = np.asarray(orders)
    except Exception as exc:  # ragged input
        raise InputTypeError(
            f"The 'orders' parameter of {func} must be a real number or a 1-D array of reals. Got {orders!r} instead."
        ) from exc
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise InputTypeError(
            f"The 'orders' parameter of {func} must be a real number or a 1-D array of reals. "
            f"Got an array of dtype {arr.dtype} instead."
        )
    arr = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
    if arr.ndim != 1 or arr.size == 0 or np.ndim(orders) > 1:
        raise PrivacyParameterError(
            f"The 'orders' parameter of {func} must be a non-empty 1-D array. Got shape {np.shape(orders)} instead."
        )
    bad = ~(arr > 1.0) | np.isnan(arr)
    if bad.any():
        raise PrivacyParameterError(
            f"The 'orders' parameter of {func} must hold Renyi orders in (1, inf]. "
            f"Got {float(arr[bad][0])!r} instead."
        )
    return arr, scalar


def _check_q(q, func):
    return check_real(q, "q", func, low=0.0, high=1.0, error=PrivacyParameterError)


def _check_noise_multiplier(sigma, func):
    return check_real(sigma, "noise_multiplier", func, low=0.0, low_open=True, error=PrivacyParameterError)


def _raise_nan(func, q, sigma, orders, values):
    bad = orders[np.isnan(values)]
    raise NumericalPrecisionError(
        f"{func} could not evaluate the subsampled-Gaussian RDP series reliably at "
        f"q={q!r}, noise_multiplier={sigma!r}, order(s) {bad[:5].tolist()}; refusing to "
        "return a possibly understated value. Drop these orders or use integer orders."
    )


def subsampled_gaussian_rdp(q, noise_multiplier, steps, orders):
    r"""RDP of ``steps`` compositions of the Poisson-subsampled Gaussian mechanism.

    Add/remove neighbours, sampling rate ``q``, noise ``N(0, sigma^2)`` on a sum
    of sensitivity 1 (``sigma`` is the noise multiplier):

    .. math::

        \mathrm{RDP}(\alpha) = \frac{T}{\alpha - 1}\log
        \mathbb{E}_{z\sim\mathcal N(0,\sigma^2)}
        \Big[\big(1 - q + q\,e^{(2z-1)/(2\sigma^2)}\big)^{\alpha}\Big]

    (Mironov, Talwar & Zhang 2019), exact at integer and fractional orders.
    ``q = 1`` gives the Gaussian ``T alpha / (2 sigma^2)``; ``q = 0`` gives 0.

    Parameters
    ----------
    q : float
        Poisson sampling rate, in ``[0, 1]``.
    noise_multiplier : float
        Noise standard deviation over the clipping norm, in ``(0, inf)``.
    steps : int
        Number of compositions ``T``, in ``[0, inf)``.
    orders : float or array_like of float
        Renyi orders in ``(1, inf]`` (``inf`` gives ``inf`` unless ``q = 0``).

    Returns
    -------
    rdp : float or ndarray of float64
        Same shape as ``orders``.

    Raises
    ------
    NumericalPrecisionError
        If the series cannot be evaluated reliably (never silently understated).

    Examples
    --------
    >>> r = subsampled_gaussian_rdp(0.01, 2.5, 50, [1.5, 2.5, 5.0, 50.0])
    >>> [float(f"{v:.6g}") for v in r]
    [0.000650071, 0.00108542, 0.00218076, 0.023846]
    >>> subsampled_gaussian_rdp(1.0, 2.0, 1, 3.0)
    0.375
    """
    func = "subsampled_gaussian_rdp"
    q = _check_q(q, func)
    sigma = _check_noise_multiplier(noise_multiplier, func)
    steps = check_int(steps, "steps", func, low=0)
    arr, scalar = _as_orders(orders, func)
    one = _series.rdp_orders(q, sigma, arr)
    if np.isnan(one).any():
        _raise_nan(func, q, sigma, arr, one)
    out = steps * one
    if steps == 0:
        out = np.zeros_like(one)
    return float(out[0]) if scalar else out


def _eps_matrix(orders: np.ndarray, rdp: np.ndarray, log_delta: float) -> np.ndarray:
    """Improved conversion for every row of ``rdp`` (rows, orders) -> epsilon per (row, order)."""
    with np.errstate(invalid="ignore", over="ignore"):
        conv = -(log_delta + np.log(orders)) / (orders - 1.0) + np.log1p(-1.0 / orders)
        eps = rdp + conv
    # order inf contributes rdp(inf) (= inf unless rdp is 0, then the limit 0)
    inf_order = np.isinf(orders)
    if inf_order.any():
        eps[..., inf_order] = rdp[..., inf_order]
    # a Renyi divergence of exactly 0 means identical output distributions: (0, 0)-DP
    eps[rdp == 0.0] = 0.0
    return eps


def _check_rdp_values(rdp, func):
    if np.isnan(rdp).any():
        raise NumericalPrecisionError(f"{func} got NaN RDP values; refusing to convert them.")
    if (rdp < 0.0).any():
        raise NumericalPrecisionError(
            f"{func} got negative RDP values (min {float(np.min(rdp))!r}); a Renyi divergence is "
            "non-negative, so these come from lost precision. Refusing to convert them."
        )


def _as_rdp_curve(rdp, orders: np.ndarray, func: str) -> np.ndarray:
    """``rdp`` as a float64 vector with one value per order, or a typed error."""
    try:
        r = np.asarray(rdp, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(f"The 'rdp' parameter of {func} must be an array of reals. Got {rdp!r} instead.") from exc
    if r.shape != orders.shape:
        raise PrivacyParameterError(
            f"The 'rdp' parameter of {func} must have one value per order. "
            f"Got {r.shape[0]} values for {orders.shape[0]} orders instead."
        )
    return r


def rdp_to_epsilon(orders, rdp, delta):
    r"""Convert an RDP curve to (epsilon, delta)-DP, minimising over the orders.

    .. math::

        \varepsilon = \min_\alpha\; \mathrm{RDP}(\alpha)
            - \frac{\log\delta + \log\alpha}{\alpha - 1} + \log\frac{\alpha-1}{\alpha}

    (Balle et al. 2020, Proposition 12 of Canonne, Kamath & Steinke 2020),
    clamped at 0. An RDP of exactly 0 at some order means the output does not
    depend on the record at all, and gives epsilon 0.

    Parameters
    ----------
    orders : array_like of float
        Renyi orders in ``(1, inf]``.
    rdp : array_like of float
        RDP at each order (same length), each in ``[0, inf]``.
    delta : float
        In ``(0, 1)``.

    Returns
    -------
    epsilon : float
    order : float
        The order that attains the minimum.

    Raises
    ------
    NumericalPrecisionError
        On NaN or negative RDP values (never converted into a small epsilon).

    Examples
    --------
    >>> rdp_to_epsilon([2.0, 4.0, 8.0], [0.1, 0.2, 0.4], 1e-5)
    (1.6141091678455335, 8.0)
    """
    func = "rdp_to_epsilon"
    arr, _ = _as_orders(orders, func)
    r = _as_rdp_curve(rdp, arr, func)
    delta = check_real(delta, "delta", func, low=0.0, high=1.0, low_open=True, high_open=True,
                       error=PrivacyParameterError)
    _check_rdp_values(r, func)
    eps = _eps_matrix(arr, r[None, :], math.log(delta))[0]
    k = int(np.argmin(eps))
    return max(float(eps[k]), 0.0), float(arr[k])
