"""Weighted histograms (1-way and 2-way marginals) in Numba.

Contract: ``codes`` int32 or int64, C-contiguous, every value in
``[0, n_cells)`` (the caller guarantees it; kernels do not check); ``weights``
float64, C-contiguous, same length. Output float64 of length ``n_cells``.

The rows are split into a number of blocks that depends only on ``n`` and
``n_cells`` (never on the thread count), each block fills its own partial
histogram and the partials are added in block order, so the result is
bit-identical for any number of threads. For weights on a dyadic grid (the
discrete-noise path) every partial sum is exact, so it equals
``np.bincount`` exactly.

Examples
--------
>>> import numpy as np
>>> from redp._kernels.histogram import weighted_bincount
>>> weighted_bincount(np.array([0, 2, 2], dtype=np.int32), np.array([1.0, 0.5, 0.25]), 4)
array([1.  , 0.  , 0.75, 0.  ])
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["weighted_bincount", "weighted_bincount2", "bincount_blocks"]

_MIN_BLOCK_ROWS = 1 << 19  # rows per block at least (below 2 blocks the serial loop runs)
_MAX_BLOCKS = 16
_PARTIAL_BUDGET = 1 << 24  # at most this many float64 partial cells (128 MiB)


def bincount_blocks(n: int, n_cells: int) -> int:
    """Number of row blocks for ``n`` rows and ``n_cells`` cells (thread-count independent).

    >>> bincount_blocks(10, 4), bincount_blocks(10**6, 100), bincount_blocks(10**7, 100)
    (1, 1, 16)
    """
    b = min(_MAX_BLOCKS, max(1, n // _MIN_BLOCK_ROWS), max(1, _PARTIAL_BUDGET // max(1, n_cells)))
    return int(b)


_SIG1 = [
    "f8[::1](i4[::1], f8[::1], i8, i8)",
    "f8[::1](i8[::1], f8[::1], i8, i8)",
]
_SIG2 = [
    "f8[::1](i4[::1], i4[::1], i8, f8[::1], i8, i8)",
    "f8[::1](i8[::1], i8[::1], i8, f8[::1], i8, i8)",
]


@nb.njit(["void(i4[::1], f8[::1], i8, i8, f8[::1])", "void(i8[::1], f8[::1], i8, i8, f8[::1])"],
         cache=True, nogil=True)
def _acc1(codes, weights, lo, hi, row):
    for i in range(lo, hi):
        row[codes[i]] += weights[i]


@nb.njit(["void(i4[::1], i4[::1], i8, f8[::1], i8, i8, f8[::1])",
          "void(i8[::1], i8[::1], i8, f8[::1], i8, i8, f8[::1])"], cache=True, nogil=True)
def _acc2(a, b_codes, card_b, weights, lo, hi, row):
    for i in range(lo, hi):
        row[np.int64(a[i]) * card_b + b_codes[i]] += weights[i]


# Each block accumulates through a separate (non-inlined) function: with the
# loop written inline in the prange body, 2 threads ran ~15x slower than 1.
@nb.njit(_SIG1, parallel=True, cache=True, nogil=True)
def _bincount1(codes, weights, n_cells, n_blocks):
    n = codes.shape[0]
    partial = np.zeros((n_blocks, n_cells), dtype=np.float64)
    step = (n + n_blocks - 1) // n_blocks
    for b in nb.prange(n_blocks):
        _acc1(codes, weights, b * step, min(n, (b + 1) * step), partial[b])
    out = np.zeros(n_cells, dtype=np.float64)
    for b in range(n_blocks):
        out += partial[b]
    return out


@nb.njit(_SIG1, cache=True, nogil=True)
def _bincount1_serial(codes, weights, n_cells, n_blocks):
    out = np.zeros(n_cells, dtype=np.float64)
    _acc1(codes, weights, 0, codes.shape[0], out)
    return out


@nb.njit(_SIG2, parallel=True, cache=True, nogil=True)
def _bincount2(a, b_codes, card_b, weights, n_cells, n_blocks):
    n = a.shape[0]
    partial = np.zeros((n_blocks, n_cells), dtype=np.float64)
    step = (n + n_blocks - 1) // n_blocks
    for b in nb.prange(n_blocks):
        _acc2(a, b_codes, card_b, weights, b * step, min(n, (b + 1) * step), partial[b])
    out = np.zeros(n_cells, dtype=np.float64)
    for b in range(n_blocks):
        out += partial[b]
    return out


@nb.njit(_SIG2, cache=True, nogil=True)
def _bincount2_serial(a, b_codes, card_b, weights, n_cells, n_blocks):
    out = np.zeros(n_cells, dtype=np.float64)
    _acc2(a, b_codes, card_b, weights, 0, a.shape[0], out)
    return out


def _prep_codes(codes) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.dtype not in (np.int32, np.int64):
        codes = codes.astype(np.int64)
    return np.ascontiguousarray(codes)


def weighted_bincount(codes, weights, n_cells: int) -> np.ndarray:
    """Weighted histogram: ``out[c] = sum(weights[codes == c])``.

    Equal to ``np.bincount(codes, weights=weights, minlength=n_cells)`` up to
    float summation order. ``weights=None`` counts rows.

    >>> weighted_bincount(np.array([1, 1, 3]), None, 4)
    array([0., 2., 0., 1.])
    """
    codes = _prep_codes(codes)
    w = np.ones(codes.shape[0]) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    blocks = bincount_blocks(codes.shape[0], int(n_cells))
    kernel = _bincount1 if blocks > 1 else _bincount1_serial  # one block: same sums, no thread launch
    return kernel(codes, w, int(n_cells), blocks)


def weighted_bincount2(a, b, card_a: int, card_b: int, weights) -> np.ndarray:
    """Weighted 2-way histogram over the combined index ``a * card_b + b``.

    Returns a float64 ``(card_a, card_b)`` table.

    >>> weighted_bincount2(np.array([0, 1, 1]), np.array([2, 0, 0]), 2, 3, None)
    array([[0., 0., 1.],
           [2., 0., 0.]])
    """
    a = _prep_codes(a)
    b = _prep_codes(b)
    if a.dtype != b.dtype:
        a, b = a.astype(np.int64), b.astype(np.int64)
    w = np.ones(a.shape[0]) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
    n_cells = int(card_a) * int(card_b)
    blocks = bincount_blocks(a.shape[0], n_cells)
    out = (_bincount2 if blocks > 1 else _bincount2_serial)(a, b, int(card_b), w, n_cells, blocks)
    return out.reshape(int(card_a), int(card_b))
