"""DP noise: the one place in redp where privacy noise is drawn.

Everything else in redp (synthesizers, scorers, DP-SGD) calls these functions
and records the privacy cost separately with :mod:`redp.accounting`; nothing
here accounts. The mechanisms are

==========================  =========================================  ==================
function                    noise                                      floating-point safe
==========================  =========================================  ==================
:func:`discrete_gaussian`   exact discrete Gaussian (CKS 2020), int64  yes (integer only)
:func:`gaussian_noise`      continuous Gaussian, float64               no (Mironov 2012)
:func:`gumbel_max`          Gumbel noise, exponential mechanism        no
:func:`noisy_weighted_mean` DP-SGD step: clip, weight, sum, Gaussian   no
==========================  =========================================  ==================

Randomness
----------
Every function takes ``rng``:

* ``None`` or ``"secure"`` (the default): noise built from the operating
  system's CSPRNG (``getrandom(2)`` on Linux, ``getentropy`` on macOS/BSD,
  ``/dev/urandom`` otherwise), read directly by the C++ samplers. Use this for
  anything you release.
* a :class:`numpy.random.Generator`, an ``int`` seed or a
  :class:`numpy.random.SeedSequence`: **seeded mode**, reproducible, for tests
  and research only. The native samplers then receive 64-bit integer seeds
  drawn from the Generator, so a fixed seed gives the same output (for any
  thread count) and two calls with the same Generator give different noise.
  An integer seed is turned into a fresh Generator on every call (SPEC 7), so
  passing the same int twice gives the same noise twice: pass a Generator to
  a loop. The first seeded call in a process emits one
  :class:`~redp.errors.InsecureRandomnessWarning` (once per process, so a
  training loop is not flooded); :func:`resolve_rng` does the same check, so
  callers can validate ``rng`` before any budget is spent.

Examples
--------
>>> import numpy as np
>>> import warnings
>>> from redp import mechanisms
>>> noise = mechanisms.discrete_gaussian(5, sigma=3.0)          # secure
>>> noise.dtype, noise.shape
(dtype('int64'), (5,))
>>> with warnings.catch_warnings():
...     warnings.simplefilter("ignore")
...     a = mechanisms.discrete_gaussian(4, 3.0, rng=7)
...     b = mechanisms.discrete_gaussian(4, 3.0, rng=7)
>>> bool((a == b).all())
True
"""

from __future__ import annotations

import math
import numbers
import warnings
from fractions import Fraction

import numpy as np

from ._validation import check_epsilon, check_int, check_real
from .errors import InputTypeError, InsecureRandomnessWarning, ParameterError, PrivacyParameterError

__all__ = [
    "SECURE",
    "resolve_rng",
    "gaussian_noise",
    "discrete_gaussian",
    "discrete_gaussian_pmf",
    "discrete_gaussian_sigma2",
    "gumbel_max",
    "clip_scale_sum",
    "noisy_weighted_mean",
]

SECURE = "secure"
"""The value :func:`resolve_rng` returns for the operating-system CSPRNG."""

#: Largest sigma accepted by :func:`discrete_gaussian` (sigma^2 <= 2^60 keeps the
#: integer arithmetic of the exact sampler inside 128 bits).
DISCRETE_SIGMA_MAX = float(2**30)

_PRECISION_BITS = 59  # sigma^2 is rounded up to a rational with a ~60-bit numerator
_MAX_DEN_LOG2 = 61

_insecure_warned = False


def _warn_insecure(func: str) -> None:
    global _insecure_warned
    if _insecure_warned:
        return
    _insecure_warned = True
    warnings.warn(
        f"{func} draws DP noise from a seeded (non-cryptographic) generator. Seeded mode is "
        "for tests and research; pass rng='secure' (or None) for anything you release. "
        "(This warning is shown once per process.)",
        InsecureRandomnessWarning,
        stacklevel=4,
    )


def resolve_rng(rng=None, func: str = "resolve_rng"):
    """Validate a noise ``rng`` argument early; return ``"secure"`` or a Generator.

    Call this at the top of a public entry point so that a bad ``rng`` raises
    before any privacy budget is spent, then pass the result on to the
    mechanisms (they accept it unchanged).

    Parameters
    ----------
    rng : None, "secure", int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` and ``"secure"`` select the operating-system CSPRNG. Anything
        else selects seeded mode (emits one
        :class:`~redp.errors.InsecureRandomnessWarning` per process).
    func : str
        Name used in error messages.

    Returns
    -------
    str or numpy.random.Generator
        :data:`SECURE` (the string ``"secure"``) or a Generator. A Generator
        passed in is returned as is (its state advances as noise is drawn).

    Raises
    ------
    InputTypeError
        ``rng`` is of another type (a ``RandomState``, a float, another string).

    Examples
    --------
    >>> import numpy as np
    >>> resolve_rng(None), resolve_rng("secure")
    ('secure', 'secure')
    >>> g = np.random.default_rng(0)
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     resolve_rng(g) is g
    True
    """
    if rng is None:
        return SECURE
    if isinstance(rng, str):
        if rng == SECURE:
            return SECURE
    elif isinstance(rng, np.random.Generator):
        _warn_insecure(func)
        return rng
    elif isinstance(rng, np.random.SeedSequence) or (
        isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_))
    ):
        if isinstance(rng, numbers.Integral) and int(rng) < 0:
            raise ParameterError(
                f"The 'rng' parameter of {func} must be a non-negative int seed. Got {rng!r} instead."
            )
        _warn_insecure(func)
        return np.random.default_rng(rng)
    raise InputTypeError(
        f"The 'rng' parameter of {func} must be None, 'secure', an int, a numpy SeedSequence "
        f"or a numpy Generator. Got {rng!r} instead."
    )


def _native_seed(gen: np.random.Generator) -> int:
    return int(gen.integers(0, 2**64, dtype=np.uint64))


def _check_shape(shape, func: str) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_)) for s in shape
    ):
        raise InputTypeError(
            f"The 'shape' parameter of {func} must be an int or a tuple of ints. Got {shape!r} instead."
        )
    shape = tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ParameterError(
            f"The 'shape' parameter of {func} must have non-negative entries. Got {shape!r} instead."
        )
    return shape


def _check_sigma(sigma, func: str, high: float | None = None, name: str = "sigma") -> float:
    return check_real(
        sigma, name, func, low=0.0, low_open=True, high=high, error=PrivacyParameterError
    )


def _check_threads(n_threads, func: str) -> int:
    if n_threads is None:
        return 0
    return check_int(n_threads, "n_threads", func, low=1)


# --- continuous Gaussian -------------------------------------------------------


def gaussian_noise(shape, sigma, rng=None):
    """Continuous Gaussian noise N(0, sigma^2) for real-valued statistics.

    A Gaussian mechanism adding this noise to a statistic of L2 sensitivity
    ``Delta`` satisfies ``Delta^2 / (2 sigma^2)``-zCDP
    (:mod:`redp.accounting` records it).

    .. warning:: Not floating-point safe. Like every sampler on doubles, the
       low-order bits of the released value can leak information (Mironov
       2012, "On significance of the least significant bits for differential
       privacy"). For counts use :func:`discrete_gaussian`.

    Parameters
    ----------
    shape : int or tuple of int
        Output shape.
    sigma : float
        Standard deviation, > 0.
    rng : None, "secure", int, SeedSequence or Generator
        ``None``/``"secure"``: standard normals by Box-Muller from 53-bit
        uniforms read from the operating-system CSPRNG (never a seeded PRNG).
        Otherwise seeded mode (``Generator.normal``), see :func:`resolve_rng`.

    Returns
    -------
    numpy.ndarray of float64, shape ``shape``

    Examples
    --------
    >>> x = gaussian_noise((2, 3), sigma=0.5)
    >>> x.shape, x.dtype
    ((2, 3), dtype('float64'))
    """
    func = "gaussian_noise"
    shape = _check_shape(shape, func)
    sigma = _check_sigma(sigma, func)
    rng = resolve_rng(rng, func)
    n = math.prod(shape)
    if rng == SECURE:
        from . import _ext

        return (_ext.normal_secure(n) * sigma).reshape(shape)
    return np.asarray(rng.normal(0.0, sigma, size=shape), dtype=np.float64)


# --- discrete Gaussian -------------------------------------------------------


def _sigma2_rational(sigma: float) -> tuple[int, int]:
    """Exact ``(num, m)`` with ``num / 2^m >= sigma^2``, rounded up, ~60 bits.

    ``sigma^2`` is computed exactly from the binary value of ``sigma`` and
    rounded *up* (more noise, never less) to a numerator of about 60 bits over
    a power-of-two denominator ``2^m``, ``m <= 61``. Values whose square has a
    short binary expansion (0.5, 1, 3, 30, 1e3, 1e6, ...) are represented exactly.
    """
    p, q = float(sigma).as_integer_ratio()  # q is a power of two
    s2 = Fraction(p * p, q * q)
    k = s2.numerator.bit_length() - s2.denominator.bit_length()  # floor(log2 s2) or one more
    if s2 < Fraction(2) ** k:
        k -= 1
    m = min(_MAX_DEN_LOG2, max(0, _PRECISION_BITS - k))
    num = -((-s2.numerator * 2**m) // s2.denominator)  # ceil
    return int(num), int(m)


def discrete_gaussian_sigma2(sigma) -> Fraction:
    """The exact sigma^2 that :func:`discrete_gaussian` samples with (>= sigma^2).

    The requested ``sigma^2`` is rounded *up* to a multiple of ``2^-m``,
    ``m = min(61, max(0, 59 - floor(log2 sigma^2)))``: a numerator of about
    60 bits. The relative increase is below ``2^-58`` for ``sigma >= 1/2``
    and the absolute one below ``2^-61`` for smaller sigma. Rounding up only
    adds noise, so accounting with the requested sigma stays valid.

    Examples
    --------
    >>> discrete_gaussian_sigma2(3.0)
    Fraction(9, 1)
    >>> discrete_gaussian_sigma2(0.1) >= Fraction(0.1) ** 2
    True
    """
    sigma = _check_sigma(sigma, "discrete_gaussian_sigma2", high=DISCRETE_SIGMA_MAX)
    num, m = _sigma2_rational(sigma)
    return Fraction(num, 2**m)


def discrete_gaussian(shape, sigma, rng=None, *, n_threads=None):
    """Exact discrete Gaussian noise (Canonne, Kamath & Steinke 2020).

    Samples ``X`` on the integers with

    .. math::

        P(X = x) = \\frac{e^{-x^2 / (2\\sigma^2)}}{\\sum_{y \\in \\mathbb{Z}} e^{-y^2 / (2\\sigma^2)}}

    by the CKS rejection sampler: a discrete Laplace proposal of scale
    ``t = floor(sigma) + 1``, accepted with probability
    ``exp(-(|x| - sigma^2/t)^2 / (2 sigma^2))``, where every Bernoulli is
    decided exactly with integer arithmetic (``Bernoulli(exp(-gamma))`` by the
    exact method). Adding it to an integer statistic of L2 sensitivity
    ``Delta`` gives ``Delta^2 / (2 sigma^2)``-zCDP, exactly as the continuous
    Gaussian, and, unlike it, is floating-point safe. Weighted counts are made
    integers by quantising weights to a public grid before this noise is added.

    ``sigma^2`` is first rounded **up** to a rational ``num / 2^m`` (about 60
    significant bits, see :func:`discrete_gaussian_sigma2`): rounding up only
    adds noise, so the guarantee for the requested sigma holds.

    Parameters
    ----------
    shape : int or tuple of int
        Output shape.
    sigma : float
        Scale parameter, in ``(0, 2^30]``.
    rng : None, "secure", int, SeedSequence or Generator
        ``None``/``"secure"``: random bits from the operating-system CSPRNG,
        read into a buffer per block and refilled as needed. Otherwise seeded
        mode: xoshiro256** streams seeded from one 64-bit integer drawn from
        the Generator, one stream per block of 8192 outputs (not secure).
    n_threads : int, optional
        Threads for large outputs (default: all cores). In seeded mode the
        output does not depend on it.

    Returns
    -------
    numpy.ndarray of int64, shape ``shape``

    Examples
    --------
    >>> x = discrete_gaussian(1000, sigma=1e6)
    >>> x.dtype, bool(abs(x.std() / 1e6 - 1) < 0.2)
    (dtype('int64'), True)
    """
    func = "discrete_gaussian"
    shape = _check_shape(shape, func)
    sigma = _check_sigma(sigma, func, high=DISCRETE_SIGMA_MAX)
    threads = _check_threads(n_threads, func)
    rng = resolve_rng(rng, func)
    num, m = _sigma2_rational(sigma)
    n = math.prod(shape)
    from . import _ext

    if rng == SECURE:
        out = _ext.dgauss_secure(n, num, m, threads)
    else:
        out = _ext.dgauss_seeded(n, num, m, _native_seed(rng), threads)
    return out.reshape(shape)


def discrete_gaussian_pmf(x, sigma):
    """Probability mass function of the discrete Gaussian (for tests and audits).

    ``exp(-x^2 / (2 sigma^2)) / Z``. The normaliser ``Z`` is summed directly
    over ``|y| <= 40 sigma + 10`` for ``sigma < 4`` (the terms beyond are below
    ``1e-300``), and by its dual (Poisson summation / Jacobi theta) form
    ``sqrt(2 pi) sigma sum_k exp(-2 pi^2 sigma^2 k^2)`` otherwise, where two
    terms reach double precision.

    Parameters
    ----------
    x : array_like of int
    sigma : float, > 0

    Returns
    -------
    numpy.ndarray of float64, same shape as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> p = discrete_gaussian_pmf(np.arange(-30, 31), 3.0)
    >>> round(float(p.sum()), 12)
    1.0
    """
    func = "discrete_gaussian_pmf"
    sigma = _check_sigma(sigma, func)
    x = np.asarray(x)
    if x.dtype.kind not in "iu":
        raise InputTypeError(
            f"The 'x' parameter of {func} must be an array of ints. Got dtype {x.dtype} instead."
        )
    s2 = sigma * sigma
    if sigma < 4.0:
        k = np.arange(-math.ceil(40 * sigma + 10), math.ceil(40 * sigma + 10) + 1, dtype=np.float64)
        z = float(np.exp(-(k * k) / (2 * s2)).sum())
    else:
        dual = 2.0 * sum(math.exp(-2.0 * math.pi**2 * s2 * j * j) for j in (1, 2))
        z = math.sqrt(2.0 * math.pi) * sigma * (1.0 + dual)
    xf = x.astype(np.float64)
    return np.exp(-(xf * xf) / (2 * s2)) / z


# --- exponential mechanism --------------------------------------------------


def gumbel_max(scores, epsilon, sensitivity=1.0, rng=None):
    """Exponential mechanism by the Gumbel-max trick; returns the selected index.

    Returns ``argmax_j (epsilon * scores_j / (2 * sensitivity) + G_j)`` with
    ``G_j`` i.i.d. standard Gumbel, i.e. index ``j`` with probability
    proportional to ``exp(epsilon * scores_j / (2 * sensitivity))``. For
    scores of sensitivity ``sensitivity`` this is ``epsilon``-DP and, being
    ``epsilon``-bounded-range, ``epsilon^2 / 8``-zCDP (Cesar & Rogers 2021).
    This function does not account: record the cost with the accountant
    (``redp.accounting``).

    Not floating-point safe (the Gumbel noise is computed in doubles). In the
    probability-zero event that two noisy scores tie exactly, all the noise is
    redrawn.

    Parameters
    ----------
    scores : array_like of float, shape (k,)
        Quality scores, finite, at least one.
    epsilon : float
        Privacy parameter, > 0.
    sensitivity : float
        L-infinity sensitivity of the score vector, > 0.
    rng : None, "secure", int, SeedSequence or Generator
        ``None``/``"secure"``: uniforms from the operating-system CSPRNG;
        otherwise seeded mode (see :func:`resolve_rng`).

    Returns
    -------
    int

    Examples
    --------
    >>> gumbel_max([0.0, 0.0, 1e6], epsilon=1.0)
    2
    """
    func = "gumbel_max"
    s = np.asarray(scores)
    if s.dtype.kind not in "iuf" or s.ndim != 1:
        raise InputTypeError(
            f"The 'scores' parameter of {func} must be a 1-d array of real numbers. "
            f"Got dtype {s.dtype} with shape {s.shape} instead."
        )
    if s.shape[0] == 0:
        raise ParameterError(f"The 'scores' parameter of {func} must have at least one entry. Got 0 instead.")
    s = s.astype(np.float64)
    if not np.isfinite(s).all():
        raise ParameterError(
            f"The 'scores' parameter of {func} must be finite. Got a NaN or inf at index "
            f"{int(np.flatnonzero(~np.isfinite(s))[0])} instead."
        )
    epsilon = check_epsilon(epsilon, func)
    sensitivity = _check_sigma(sensitivity, func, name="sensitivity")
    rng = resolve_rng(rng, func)
    with np.errstate(over="ignore"):
        logits = s * (epsilon / (2.0 * sensitivity))
    if not np.isfinite(logits).all():
        raise ParameterError(
            f"The scaled scores of {func} overflow (epsilon * scores / (2 * sensitivity) is not "
            "finite). Rescale the scores."
        )
    from . import _ext

    while True:
        if rng == SECURE:
            u = _ext.uniform_secure(s.shape[0])
            g = -np.log(-np.log(u))
        else:
            g = rng.gumbel(size=s.shape[0])
        noisy = logits + g
        best = int(np.argmax(noisy))
        if np.count_nonzero(noisy == noisy[best]) == 1:
            return best


# --- DP-SGD aggregation -------------------------------------------------------


def _check_grads_weights(per_sample_grads, weights, clip, func):
    g = per_sample_grads
    if not isinstance(g, np.ndarray):
        g = np.asarray(g)
    if g.dtype.kind not in "iuf" or g.dtype.kind == "f" and g.dtype.itemsize > 8:
        raise InputTypeError(
            f"The 'per_sample_grads' parameter of {func} must be a float32 or float64 array. "
            f"Got dtype {g.dtype} instead."
        )
    if g.ndim != 2:
        raise ParameterError(
            f"The 'per_sample_grads' parameter of {func} must be 2-d (B, p). Got shape {g.shape} instead."
        )
    if g.dtype not in (np.float32, np.float64):
        g = g.astype(np.float64)
    g = np.ascontiguousarray(g)
    w = np.asarray(weights)
    if w.dtype.kind not in "iuf":
        raise InputTypeError(
            f"The 'weights' parameter of {func} must be an array of real numbers. Got dtype "
            f"{w.dtype} instead."
        )
    if w.shape != (g.shape[0],):
        raise ParameterError(
            f"The 'weights' parameter of {func} must have shape (B,) = ({g.shape[0]},) to match "
            f"per_sample_grads. Got shape {w.shape} instead."
        )
    w = np.ascontiguousarray(w, dtype=np.float64)
    if w.size and not (np.all(w >= 0.0) and np.all(w <= 1.0)):  # NaN fails both
        bad = int(np.flatnonzero(~((w >= 0.0) & (w <= 1.0)))[0])
        raise ParameterError(
            f"The 'weights' parameter of {func} must lie in [0, 1]. Got {float(w[bad])!r} at index "
            f"{bad} instead."
        )
    clip = check_real(clip, "C", func, low=0.0, low_open=True)
    return g, w, clip


def clip_scale_sum(per_sample_grads, weights, C):
    """Clip each row to L2 norm ``C``, multiply by its weight, and sum.

    .. math::

        \\operatorname{out} = \\sum_{i=1}^{B} w_i \\min\\left(1, \\frac{C}{\\lVert g_i \\rVert_2}\\right) g_i

    With weights in ``[0, 1]`` adding or removing one row changes the sum by
    at most ``C`` in L2 norm (the sensitivity :func:`noisy_weighted_mean`
    calibrates to); row ``i`` alone changes it by at most ``w_i C``.

    Parameters
    ----------
    per_sample_grads : array_like, shape (B, p)
        float32 or float64 (used as is when C-contiguous, otherwise copied);
        integer arrays are converted to float64. Must be finite.
    weights : array_like, shape (B,)
        Per-row weights in ``[0, 1]``.
    C : float
        Clipping norm, > 0.

    Returns
    -------
    numpy.ndarray of float64, shape (p,)
        Accumulated in float64; bit-identical for any number of Numba threads.

    Raises
    ------
    InputTypeError
        Non-real dtypes.
    ValueError
        Wrong shapes, weights outside ``[0, 1]``, ``C <= 0``, non-finite gradients.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.array([[3.0, 4.0], [1.0, 0.0]], dtype=np.float32)
    >>> clip_scale_sum(g, [1.0, 0.5], C=1.0)
    array([1.1, 0.8])
    """
    func = "clip_scale_sum"
    g, w, clip = _check_grads_weights(per_sample_grads, weights, C, func)
    from ._kernels.aggregate import clip_scale_sum_kernel

    out, bad = clip_scale_sum_kernel(g, w, clip)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ParameterError(
            f"The 'per_sample_grads' parameter of {func} must be finite. Got a NaN or inf in row "
            f"{row} instead."
        )
    return out


def noisy_weighted_mean(per_sample_grads, weights, C, noise_multiplier, expected_batch_size, rng=None):
    """One weighted DP-SGD aggregation: clip, weight, sum, add Gaussian noise, divide.

    .. math::

        \\frac{1}{q n} \\left( \\sum_i w_i \\operatorname{clip}_C(g_i)
        + \\mathcal{N}(0, \\sigma^2 C^2 I_p) \\right)

    with ``sigma = noise_multiplier`` and ``q n = expected_batch_size``. The
    divisor is the **public** expected batch size of Poisson sampling, never
    the realised batch size (which depends on the data). Worst case the step
    is the subsampled Gaussian mechanism with multiplier ``sigma``; record
    ``i`` sees ``sigma / w_i``. Accounting lives in :mod:`redp.accounting`.
    The noise comes from :func:`gaussian_noise` (not floating-point safe).

    Parameters
    ----------
    per_sample_grads : array_like, shape (B, p)
        The realised (Poisson-sampled) batch; ``B`` may be 0.
    weights : array_like, shape (B,)
        Per-record weights in ``[0, 1]``.
    C : float
        Clipping norm, > 0.
    noise_multiplier : float
        sigma, > 0.
    expected_batch_size : float
        ``q * n_public``, > 0.
    rng : None, "secure", int, SeedSequence or Generator

    Returns
    -------
    numpy.ndarray of float64, shape (p,)

    Examples
    --------
    >>> import numpy as np
    >>> g = np.ones((8, 3))
    >>> noisy_weighted_mean(g, np.ones(8), C=1.0, noise_multiplier=1.0,
    ...                     expected_batch_size=10.0).shape
    (3,)
    """
    func = "noisy_weighted_mean"
    g, w, clip = _check_grads_weights(per_sample_grads, weights, C, func)
    noise_multiplier = _check_sigma(noise_multiplier, func, name="noise_multiplier")
    expected_batch_size = check_real(
        expected_batch_size, "expected_batch_size", func, low=0.0, low_open=True
    )
    rng = resolve_rng(rng, func)
    total = clip_scale_sum(g, w, clip)
    total += gaussian_noise(total.shape, noise_multiplier * clip, rng)
    return total / expected_batch_size
