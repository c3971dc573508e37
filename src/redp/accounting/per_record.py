"""Per-record privacy bounds, conditional on the realised weights.

Record ``i`` enters every weighted statistic scaled by ``w_i`` in ``[0, 1]``
while the noise is calibrated to weight 1, so it sees an effective noise
``sigma / w_i`` (DESIGN.md section 1):

* full-batch Gaussian measurements with zCDP ``rho_2`` at weight 1:
  ``rho_i = rho_uniform + w_i^2 rho_2``, converted with CKS;
* Poisson-subsampled DP-SGD ``(q, sigma, T)``:
  ``RDP_i(alpha) = alpha rho_uniform [+ alpha w_i^2 rho_2] + T R_q(alpha; sigma / w_i)``,
  converted with the improved RDP conversion over ``orders``.

Weights are first quantised *up* to the public grid ``ceil(w grid) / grid``
(a larger weight is a weaker bound, never a stronger one); records sharing a
grid value share one computation, so 10^7 records cost a bincount, at most
``grid + 1`` accounting evaluations and one gather. These bounds are data
dependent: they are for the data curator, never for a public release.

Examples
--------
>>> import numpy as np
>>> from redp.accounting import per_record_epsilon, zcdp_to_epsilon
>>> w = np.array([1.0, 0.5, 0.2])
>>> eps = per_record_epsilon(w, 1e-6, full_batch=0.1, uniform_rho=0.01)
>>> bool(eps[0] == zcdp_to_epsilon(0.01 + 0.1, 1e-6))
True
>>> bool(eps[0] > eps[1] > eps[2])
True
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from .._validation import check_int, check_real
from ..errors import InputTypeError, PrivacyParameterError
from . import _series
from .rdp import DEFAULT_ORDERS, _as_orders, _eps_matrix, _raise_nan
from .zcdp import cks_epsilon

__all__ = ["per_record_epsilon", "per_record_rho", "quantize_weights"]


def _validate_weights(weights, func):
    w = np.asarray(weights)
    if w.dtype == bool or not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)):
        raise InputTypeError(
            f"The 'weights' parameter of {func} must be an array of real numbers in [0, 1]. "
            f"Got an array of dtype {w.dtype} instead."
        )
    if w.size == 0:
        return w.astype(np.float64)
    lo = w.min()
    hi = w.max()
    if not (lo >= 0 and hi <= 1):  # also catches NaN
        bad = lo if not lo >= 0 else hi
        raise PrivacyParameterError(
            f"The 'weights' parameter of {func} must hold weights in [0, 1]. Got {float(bad)!r} instead."
        )
    return w


def _check_grid(grid, func):
    return check_int(grid, "grid", func, low=1, high=2**24)


def quantize_weights(weights, grid=256):
    """Grid index ``k = ceil(w * grid)`` of each weight (quantised weight ``k / grid >= w``).

    Parameters
    ----------
    weights : array_like of float
        Weights in ``[0, 1]``.
    grid : int, default=256
        Number of grid steps; the public grid is ``{0, 1/grid, ..., 1}``.

    Returns
    -------
    k : ndarray of int32
        Same shape as ``weights``.

    Examples
    --------
    >>> quantize_weights([0.0, 0.001, 0.5, 0.50001, 1.0], grid=4)
    array([0, 1, 2, 3, 4], dtype=int32)
    """
    func = "quantize_weights"
    grid = _check_grid(grid, func)
    w = _validate_weights(weights, func)
    return _quantize(w, grid)


def _quantize(w, grid):
    t = np.multiply(w, float(grid), dtype=np.float64)
    np.ceil(t, out=t)
    k = t.astype(np.int32)
    if grid & (grid - 1):
        # w * grid is exact for a power-of-two grid; otherwise repair the rare
        # product that rounded down onto an integer (k / grid < w).
        under = (k / grid) < w
        if under.any():
            k[under] += 1
    return k


def _check_rho_part(value, name, func):
    return check_real(value, name, func, low=0.0, error=PrivacyParameterError)


def _full_batch_rho(full_batch, func):
    if full_batch is None:
        return 0.0
    if isinstance(full_batch, numbers.Real) and not isinstance(full_batch, bool):
        return _check_rho_part(full_batch, "full_batch", func)
    try:
        parts = [_check_rho_part(v, "full_batch", func) for v in full_batch]
    except TypeError as exc:
        raise InputTypeError(
            f"The 'full_batch' parameter of {func} must be a zCDP rho (float) or a sequence of them. "
            f"Got {full_batch!r} instead."
        ) from exc
    return math.fsum(parts)


def per_record_rho(weights, rho_2, uniform_rho=0.0, grid=256):
    r"""Per-record zCDP ``rho_i = uniform_rho + w_i^2 rho_2`` on quantised weights.

    Parameters
    ----------
    weights : array_like of float
        Realised weights in ``[0, 1]``, quantised up to ``ceil(w grid)/grid``.
    rho_2 : float
        zCDP of the weighted full-batch measurements at weight 1.
    uniform_rho : float, default=0.0
        zCDP of the unweighted parts (e.g. stage-1 scoring).
    grid : int, default=256

    Returns
    -------
    rho : ndarray of float64
        Same shape as ``weights``.

    Examples
    --------
    >>> per_record_rho([1.0, 0.5, 0.0], 0.4, uniform_rho=0.1)
    array([0.5, 0.2, 0.1])
    """
    func = "per_record_rho"
    grid = _check_grid(grid, func)
    rho_2 = _check_rho_part(rho_2, "rho_2", func)
    uniform_rho = _check_rho_part(uniform_rho, "uniform_rho", func)
    w = _validate_weights(weights, func)
    k = _quantize(w, grid)
    values = np.arange(grid + 1, dtype=np.float64) / grid
    table = uniform_rho + values * values * rho_2
    return table[k]


def per_record_epsilon(weights, delta, *, full_batch=None, dpsgd=None, uniform_rho=0.0, grid=256,
                       orders=DEFAULT_ORDERS):
    r"""Per-record epsilon_i at ``delta``, conditional on the realised weights.

    Parameters
    ----------
    weights : array_like of float
        Realised weights in ``[0, 1]`` (any shape), quantised up to
        ``ceil(w grid) / grid``.
    delta : float
        In ``(0, 1)``.
    full_batch : float or sequence of float, optional
        zCDP ``rho_2`` of the weighted full-batch Gaussian measurements at
        weight 1 (a sequence is summed): ``rho_i = uniform_rho + w_i^2 rho_2``.
    dpsgd : tuple (q, noise_multiplier, steps), optional
        Weighted DP-SGD: ``T R_q(alpha; sigma / w_i)`` is added to the RDP.
    uniform_rho : float, default=0.0
        zCDP spent without weights (every record pays it in full).
    grid : int, default=256
    orders : array_like of float, default=DEFAULT_ORDERS
        Renyi orders for the DP-SGD conversion (unused without ``dpsgd``).

    Returns
    -------
    epsilon : ndarray of float64
        Same shape as ``weights``. Without ``dpsgd`` each value is
        ``zcdp_to_epsilon(rho_i, delta)``; with it,
        ``rdp_to_epsilon(orders, RDP_i, delta)[0]``.

    Examples
    --------
    >>> import numpy as np
    >>> eps = per_record_epsilon(np.array([1.0, 0.25, 0.0]), 1e-5, dpsgd=(0.01, 1.0, 1000), uniform_rho=0.005)
    >>> [round(float(e), 3) for e in eps]
    [2.14, 0.493, 0.375]
    """
    func = "per_record_epsilon"
    delta = check_real(delta, "delta", func, low=0.0, high=1.0, low_open=True, high_open=True,
                       error=PrivacyParameterError)
    grid = _check_grid(grid, func)
    uniform_rho = _check_rho_part(uniform_rho, "uniform_rho", func)
    rho_2 = _full_batch_rho(full_batch, func)
    if dpsgd is not None:
        try:
            q, sigma, steps = dpsgd
        except (TypeError, ValueError) as exc:
            raise InputTypeError(
                f"The 'dpsgd' parameter of {func} must be a tuple (q, noise_multiplier, steps). "
                f"Got {dpsgd!r} instead."
            ) from exc
        q = check_real(q, "q", func, low=0.0, high=1.0, error=PrivacyParameterError)
        sigma = check_real(sigma, "noise_multiplier", func, low=0.0, low_open=True, error=PrivacyParameterError)
        steps = check_int(steps, "steps", func, low=0)
        orders_arr, _ = _as_orders(orders, func)
    elif full_batch is None and uniform_rho == 0.0:
        raise PrivacyParameterError(
            f"{func} needs something to account: full_batch=, dpsgd= or a positive uniform_rho=."
        )
    w = _validate_weights(weights, func)
    k = _quantize(w, grid)
    present = np.flatnonzero(np.bincount(k.reshape(-1), minlength=grid + 1))
    wq = present / grid
    rho_rows = uniform_rho + wq * wq * rho_2
    log_delta = math.log(delta)
    if dpsgd is None:
        eps_rows = cks_epsilon(rho_rows, log_delta)
    else:
        one = np.zeros((present.size, orders_arr.size))
        pos = present > 0
        if pos.any():
            one[pos] = _series.rdp_grid(q, sigma / wq[pos], orders_arr)
            if np.isnan(one).any():
                _raise_nan(func, q, sigma, orders_arr, one[np.isnan(one).any(axis=1)][0])
        rdp = steps * one + orders_arr[None, :] * rho_rows[:, None]
        eps_rows = np.maximum(_eps_matrix(orders_arr, rdp, log_delta).min(axis=1), 0.0)
    table = np.zeros(grid + 1, dtype=np.float64)
    table[present] = eps_rows
    return table[k]
