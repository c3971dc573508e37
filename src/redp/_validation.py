"""Argument checks shared by the public API (one message format everywhere).

Messages follow "The 'name' parameter of func must be <expectation>. Got <value>
instead." so users can find the argument and the fix.
"""

from __future__ import annotations

import numbers

import numpy as np

from .errors import InputTypeError, ParameterError, PrivacyParameterError


def _is_real_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, (bool, np.bool_))


def check_int(value, name: str, func: str, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as a Python int in ``[low, high]`` or raise.

    >>> check_int(3, "k", "knn", low=1)
    3
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InputTypeError(
            f"The '{name}' parameter of {func} must be an int. Got {value!r} instead."
        )
    value = int(value)
    lo = "-inf" if low is None else str(low)
    hi = "inf)" if high is None else f"{high}]"
    if (low is not None and value < low) or (high is not None and value > high):
        raise ParameterError(
            f"The '{name}' parameter of {func} must be an int in the range [{lo}, {hi}. "
            f"Got {value} instead."
        )
    return value


def check_real(
    value,
    name: str,
    func: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    error=ParameterError,
) -> float:
    """Return ``value`` as a finite float inside the given interval or raise ``error``.

    >>> check_real(0.5, "delta", "f", low=0, high=1, high_open=True)
    0.5
    """
    if not _is_real_number(value):
        raise InputTypeError(
            f"The '{name}' parameter of {func} must be a real number. Got {value!r} instead."
        )
    value = float(value)
    lo = "-inf" if low is None else repr(float(low))
    hi = "inf" if high is None else repr(float(high))
    interval = f"{'(' if low_open or low is None else '['}{lo}, {hi}{')' if high_open or high is None else ']'}"
    bad = not np.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        raise error(
            f"The '{name}' parameter of {func} must be a finite number in {interval}. "
            f"Got {value!r} instead."
        )
    return value


def check_epsilon(value, func: str, name: str = "epsilon") -> float:
    """epsilon in (0, inf)."""
    return check_real(value, name, func, low=0.0, low_open=True, error=PrivacyParameterError)


def check_delta(value, func: str, name: str = "delta") -> float:
    """delta in [0, 1)."""
    return check_real(value, name, func, low=0.0, high=1.0, high_open=True, error=PrivacyParameterError)


def check_rho(value, func: str, name: str = "rho") -> float:
    """zCDP rho in (0, inf)."""
    return check_real(value, name, func, low=0.0, low_open=True, error=PrivacyParameterError)


def as_generator(rng, func: str = "redp") -> np.random.Generator:
    """Normalise ``rng`` (None, int, SeedSequence or Generator) per SPEC 7.

    Used for *non-noise* randomness (splits, permutations, sampling synthetic
    rows). DP noise goes through :mod:`redp.mechanisms`, which also accepts
    ``"secure"``.

    >>> int(as_generator(0).integers(10)) == int(as_generator(0).integers(10))
    True
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (numbers.Integral, np.random.SeedSequence)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise InputTypeError(
        f"The 'rng' parameter of {func} must be None, an int, a numpy SeedSequence or a "
        f"numpy Generator. Got {rng!r} instead."
    )
