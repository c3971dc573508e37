"""Log-space special functions for accounting (no SciPy at run time).

Written once in plain ``math`` and marked ``register_jitable``, so the same
source serves pure Python (analytic Gaussian) and Numba kernels (RDP series in
:mod:`redp.accounting._series`).

* ``log_erfcx(x) = log(exp(x**2) * erfc(x))`` for ``x >= 0``: direct below 8,
  the asymptotic series ``1/(x sqrt(pi)) * sum (-1)^n (2n-1)!! / (2x^2)^n``
  above (17 terms keep the truncation below 1e-17 at ``x = 8``).
* ``log_erfc(x)``: ``log(erfc(x))`` for ``x < 8`` (``math.erfc`` is accurate to
  a few ulp in relative terms there), ``-x**2 + log_erfcx(x)`` above, so values
  far below the double range (``erfc(40) ~ 1e-697``) stay exact in log space.
* ``log_ndtr(x) = log(Phi(x))``, the log of the standard normal CDF.

Examples
--------
>>> from redp.accounting._special import log_erfc, log_ndtr
>>> round(log_erfc(0.0), 12)
0.0
>>> round(log_ndtr(-40.0), 6)  # Phi(-40) ~ 3.7e-350 underflows, its log does not
-804.608442
"""

from __future__ import annotations

import math

from numba.extending import register_jitable

_LOG_SQRT_PI = 0.5 * math.log(math.pi)
_LOG2 = math.log(2.0)
_SQRT1_2 = math.sqrt(0.5)


@register_jitable
def log_erfcx(x: float) -> float:
    """``log(exp(x**2) * erfc(x))`` for ``x >= 0`` (see the module docstring)."""
    if x < 8.0:
        return x * x + math.log(math.erfc(x))
    inv2x2 = 1.0 / (2.0 * x * x)
    term = 1.0
    total = 1.0
    for n in range(1, 18):
        term *= -(2.0 * n - 1.0) * inv2x2
        total += term
    return math.log(total) - math.log(x) - _LOG_SQRT_PI


@register_jitable
def log_erfc(x: float) -> float:
    """``log(erfc(x))`` for every finite ``x`` (see the module docstring)."""
    if x < 8.0:
        return math.log(math.erfc(x))
    return -x * x + log_erfcx(x)


@register_jitable
def log_ndtr(x: float) -> float:
    """``log(Phi(x))``, the log of the standard normal CDF."""
    return log_erfc(-x * _SQRT1_2) - _LOG2
