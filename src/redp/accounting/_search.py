"""The one monotone search behind every calibration: smallest feasible noise scale.

Calibration asks for the smallest ``x > 0`` with ``ok(x)`` true, where ``ok``
is monotone (false below a threshold, true above: more noise never costs more
privacy). The answer is always a point where ``ok`` was *evaluated* true, so a
calibrated noise scale never overshoots its target.
"""

from __future__ import annotations

import math

__all__ = ["smallest_feasible"]


def smallest_feasible(ok, start: float, *, error: Exception, rtol: float = 0.0, lower: float = 0.0,
                      upper: float = math.inf, max_steps: int = 2100) -> float:
    """Smallest ``x`` (up to ``rtol``) with ``ok(x)``; ``ok`` monotone in ``x > 0``.

    Brackets by doubling / halving from ``start``, then bisects in log space
    until ``hi <= lo * (1 + rtol)`` (``rtol=0``: adjacent doubles). Halving stops
    at ``lower`` (the feasible point reached is returned); doubling past
    ``upper`` or beyond ``max_steps`` raises ``error``.

    >>> round(smallest_feasible(lambda x: x * x >= 2.0, 1.0, error=ValueError()), 12)
    1.414213562373
    """
    lo = hi = float(start)
    for _ in range(max_steps):
        if not ok(hi):
            if hi * 2.0 > upper:
                raise error
            lo, hi = hi, hi * 2.0
        elif ok(lo):
            if lo / 2.0 < lower:
                return lo
            hi, lo = lo, lo / 2.0
        else:
            break
    else:
        raise error
    # invariant: ok(hi) and not ok(lo)
    for _ in range(200):
        if rtol and hi <= lo * (1.0 + rtol):
            break
        mid = math.sqrt(lo * hi)
        if not lo < mid < hi:
            break
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi
