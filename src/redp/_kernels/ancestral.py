"""Ancestral sampling from a tree (or forest) of conditional tables, in Numba.

Model: columns visited in a topological ``order``; column ``j`` has parent
``parent[j]`` (``-1`` for a root). Its conditional CDFs are stored row by row
in ``cdf`` starting at ``offset[j]``: row ``v`` (the parent's value, 0 for a
root) is ``cdf[offset[j] + v * card[j] : offset[j] + (v + 1) * card[j]]``, an
increasing array ending at 1.

Randomness is counter-based: the uniform for row ``i`` and column ``j`` is a
SplitMix64 hash of ``(seed, i * n_cols + j)``, so the output is a pure function
of the seed, identical for any thread count and any block split.

Examples
--------
>>> import numpy as np
>>> from redp._kernels.ancestral import sample_tree
>>> order = np.array([0, 1]); parent = np.array([-1, 0]); card = np.array([2, 2])
>>> cdf = np.array([0.5, 1.0,   1.0, 1.0,   0.0, 1.0])  # root fair; child copies the parent
>>> offset = np.array([0, 2])
>>> s = sample_tree(1000, order, parent, card, offset, cdf, seed=7)
>>> bool(np.all(s[:, 0] == s[:, 1])), 400 < int(s[:, 0].sum()) < 600
(True, True)
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["sample_tree", "uniforms"]

_BLOCK = 1 << 14
_SERIAL_MAX = 1 << 15
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@nb.njit("f8(u8, u8)", cache=True, nogil=True, inline="always")
def _uniform(seed, counter):
    z = seed + (counter + np.uint64(1)) * np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)  # 53 bits -> [0, 1)


@nb.njit("f8[::1](u8, u8, i8)", cache=True, nogil=True)
def _uniforms(seed, start, n):
    out = np.empty(n, dtype=np.float64)
    for i in range(n):
        out[i] = _uniform(seed, start + np.uint64(i))
    return out


def uniforms(seed: int, n: int, start: int = 0) -> np.ndarray:
    """The counter-based uniforms ``u(seed, start), ..., u(seed, start + n - 1)`` in [0, 1).

    >>> u = uniforms(3, 5)
    >>> bool(np.all((u >= 0) & (u < 1))), bool(np.array_equal(u[2:], uniforms(3, 3, start=2)))
    (True, True)
    """
    return _uniforms(np.uint64(seed), np.uint64(start), int(n))


_LINEAR_MAX = 32  # up to this many levels a branch-free count beats a binary search


@nb.njit("void(i4[:, ::1], i8, i8, i8[::1], i8[::1], i8[::1], i8[::1], f8[::1], u8)", cache=True, nogil=True)
def _sample_rows(out, lo, hi, order, parent, card, offset, cdf, seed):
    d = order.shape[0]
    for i in range(lo, hi):
        base = np.uint64(i) * np.uint64(d)
        for t in range(d):
            j = order[t]
            p = parent[j]
            k = card[j]
            start = offset[j] + (out[i, p] * k if p >= 0 else 0)
            u = _uniform(seed, base + np.uint64(j))
            if k <= _LINEAR_MAX:  # count the cdf entries <= u (no unpredictable branches)
                a = 0
                for m in range(k - 1):
                    a += cdf[start + m] <= u
            else:  # binary search: first c with cdf[start + c] > u
                a = 0
                b = k - 1
                while a < b:
                    m = (a + b) >> 1
                    if cdf[start + m] > u:
                        b = m
                    else:
                        a = m + 1
            out[i, j] = a


@nb.njit(
    "i4[:, ::1](i8, i8[::1], i8[::1], i8[::1], i8[::1], f8[::1], u8)",
    parallel=True,
    cache=True,
    nogil=True,
)
def _sample_tree_par(n, order, parent, card, offset, cdf, seed):
    out = np.empty((n, order.shape[0]), dtype=np.int32)
    n_blocks = (n + _BLOCK - 1) // _BLOCK
    for blk in nb.prange(n_blocks):
        _sample_rows(out, blk * _BLOCK, min(n, (blk + 1) * _BLOCK), order, parent, card, offset, cdf, seed)
    return out


def sample_tree(n, order, parent, card, offset, cdf, seed) -> np.ndarray:
    """Draw ``n`` rows of codes ``(n, n_cols)`` int32 from the tree model (see module doc).

    ``seed`` is an int in ``[0, 2**64)``; the same seed gives the same rows for
    any thread count.
    """
    as64 = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    args = (as64(order), as64(parent), as64(card), as64(offset), np.ascontiguousarray(cdf, dtype=np.float64),
            np.uint64(seed))
    n = int(n)
    if n <= _SERIAL_MAX:  # a parallel launch costs more than it saves here
        out = np.empty((n, args[0].shape[0]), dtype=np.int32)
        _sample_rows(out, 0, n, *args)
        return out
    return _sample_tree_par(n, *args)
