"""Weighted clip-scale-sum, the aggregation step of DP-SGD, in Numba.

Contract: ``grads`` float32 or float64, shape ``(B, p)``, C-contiguous;
``weights`` float64 ``(B,)``, C-contiguous, values in ``[0, 1]``; ``clip`` a
positive float. Output float64 ``(p,)``:

.. math::

    \\sum_i w_i \\min(1, C / \\lVert g_i \\rVert_2) \\, g_i

All accumulation is in float64. Rows whose norm is not finite (a NaN or an
inf entry) are flagged in ``bad`` and contribute nothing; the caller raises.
A float64 row whose squared norm overflows but whose entries are finite is
rescaled by its largest entry, so its norm is still exact to rounding.

Two schedules, both bit-identical for any number of threads (the work split
depends only on ``B`` and ``p``, and partial sums are added in a fixed order):

* ``fused`` (moderate ``p``): fixed row chunks; each task computes a row's norm
  and immediately adds the scaled row into its own float64 partial vector
  while the row is still in cache, so ``grads`` is read from memory once.
* ``two_pass`` (very wide ``p``, above 2^21 or the partials budget): row norms in parallel over rows, then the
  weighted sum in parallel over fixed column blocks.

Examples
--------
>>> import numpy as np
>>> from redp._kernels.aggregate import clip_scale_sum_kernel
>>> g = np.array([[3.0, 4.0], [0.3, 0.4]])
>>> clip_scale_sum_kernel(g, np.array([1.0, 1.0]), 1.0)[0]
array([0.9, 1.2])
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["clip_scale_sum_kernel", "plan_chunks"]

_MAX_CHUNKS = 64  # row chunks in the fused schedule
_MIN_CHUNK_ROWS = 16
_MIN_FUSED_CHUNKS = 8  # fewer than this (p too wide for the partials) -> two-pass
_PARTIAL_BUDGET = 1 << 23  # float64 partial cells at most (64 MiB)
_COL_BLOCK = 8192  # columns per task in the two-pass schedule
_MAX_FUSED_COLS = 1 << 21  # wider rows: two-pass (four rows no longer stay in cache)

_FASTMATH = {"reassoc", "contract"}  # never 'nnan'/'ninf': NaN detection relies on them


def plan_chunks(n_rows: int, n_cols: int) -> int:
    """Number of row chunks of the fused schedule; 0 selects the two-pass schedule.

    Depends on the shape only (never on the thread count). Rows wider than
    ``_MAX_FUSED_COLS`` (four rows plus the partial vector no longer fit in a
    last-level cache) or too wide for the partial-sum budget go two-pass.

    >>> plan_chunks(4096, 10_000), plan_chunks(4096, 10**6), plan_chunks(4096, 10**7)
    (64, 8, 0)
    """
    if n_cols > _MAX_FUSED_COLS:
        return 0
    by_rows = max(1, -(-n_rows // _MIN_CHUNK_ROWS))
    by_mem = _PARTIAL_BUDGET // max(1, n_cols)
    n_chunks = min(_MAX_CHUNKS, by_rows, by_mem)
    if n_chunks < min(_MIN_FUSED_CHUNKS, by_rows):
        return 0
    return int(n_chunks)


_SIG_ROW = ["f8(f4[::1])", "f8(f8[::1])"]


@nb.njit(_SIG_ROW, cache=True, nogil=True, fastmath=_FASTMATH)
def _row_norm(row):
    s = 0.0
    for j in range(row.shape[0]):
        v = np.float64(row[j])
        s += v * v
    if np.isfinite(s):
        return np.sqrt(s)
    if np.isnan(s):
        return np.nan
    # inf: an inf entry, or finite entries whose squares overflow (float64 only)
    m = 0.0
    for j in range(row.shape[0]):
        a = abs(np.float64(row[j]))
        if a > m:
            m = a
    if not np.isfinite(m):
        return np.inf
    s = 0.0
    for j in range(row.shape[0]):
        v = np.float64(row[j]) / m
        s += v * v
    return m * np.sqrt(s)


@nb.njit("f8(f8, f8, f8)", cache=True, nogil=True)
def _factor(norm, weight, clip):
    if norm > clip:
        return weight * (clip / norm)
    return weight


_SIG_CHECKED = [
    "f8(f4[::1], f8, f8, u1[::1], i8)",
    "f8(f8[::1], f8, f8, u1[::1], i8)",
]


@nb.njit(_SIG_CHECKED, cache=True, nogil=True)
def _checked_factor(row, weight, clip, bad, i):
    norm = _row_norm(row)
    if not np.isfinite(norm):
        bad[i] = 1
        return 0.0
    return _factor(norm, weight, clip)


_SIG_FUSED = [
    "void(f4[:, ::1], f8[::1], f8, i8, f8[:, ::1], u1[::1])",
    "void(f8[:, ::1], f8[::1], f8, i8, f8[:, ::1], u1[::1])",
]


@nb.njit(_SIG_FUSED, parallel=True, cache=True, nogil=True, fastmath=_FASTMATH)
def _fused(grads, weights, clip, rows_per_chunk, partials, bad):
    n_rows, n_cols = grads.shape
    n_chunks = partials.shape[0]
    for c in nb.prange(n_chunks):
        acc = partials[c]
        for j in range(n_cols):
            acc[j] = 0.0
        lo = c * rows_per_chunk
        hi = min(n_rows, lo + rows_per_chunk)
        i = lo
        # four rows per sweep over acc: a quarter of the load/store traffic on
        # the partial vector; the four rows are still in cache from their norms
        while i + 4 <= hi:
            f0 = _checked_factor(grads[i], weights[i], clip, bad, i)
            f1 = _checked_factor(grads[i + 1], weights[i + 1], clip, bad, i + 1)
            f2 = _checked_factor(grads[i + 2], weights[i + 2], clip, bad, i + 2)
            f3 = _checked_factor(grads[i + 3], weights[i + 3], clip, bad, i + 3)
            r0 = grads[i]
            r1 = grads[i + 1]
            r2 = grads[i + 2]
            r3 = grads[i + 3]
            for j in range(n_cols):
                acc[j] += (f0 * np.float64(r0[j]) + f1 * np.float64(r1[j])) + (
                    f2 * np.float64(r2[j]) + f3 * np.float64(r3[j])
                )
            i += 4
        while i < hi:
            f = _checked_factor(grads[i], weights[i], clip, bad, i)
            row = grads[i]
            if f != 0.0:
                for j in range(n_cols):
                    acc[j] += f * np.float64(row[j])
            i += 1


_SIG_NORMS = [
    "void(f4[:, ::1], f8[::1], f8, f8[::1], u1[::1])",
    "void(f8[:, ::1], f8[::1], f8, f8[::1], u1[::1])",
]


@nb.njit(_SIG_NORMS, parallel=True, cache=True, nogil=True)
def _factors(grads, weights, clip, factors, bad):
    for i in nb.prange(grads.shape[0]):
        norm = _row_norm(grads[i])
        if not np.isfinite(norm):
            bad[i] = 1
            factors[i] = 0.0
        else:
            factors[i] = _factor(norm, weights[i], clip)


_SIG_COLS = [
    "void(f4[:, ::1], f8[::1], i8, f8[::1])",
    "void(f8[:, ::1], f8[::1], i8, f8[::1])",
]


@nb.njit(_SIG_COLS, parallel=True, cache=True, nogil=True, fastmath=_FASTMATH)
def _column_sums(grads, factors, col_block, out):
    n_rows, n_cols = grads.shape
    n_blocks = (n_cols + col_block - 1) // col_block
    for b in nb.prange(n_blocks):
        lo = b * col_block
        hi = min(n_cols, lo + col_block)
        acc = out[lo:hi]
        width = hi - lo
        for j in range(width):
            acc[j] = 0.0
        i = 0
        while i + 4 <= n_rows:
            f0 = factors[i]
            f1 = factors[i + 1]
            f2 = factors[i + 2]
            f3 = factors[i + 3]
            r0 = grads[i, lo:hi]
            r1 = grads[i + 1, lo:hi]
            r2 = grads[i + 2, lo:hi]
            r3 = grads[i + 3, lo:hi]
            for j in range(width):
                acc[j] += (f0 * np.float64(r0[j]) + f1 * np.float64(r1[j])) + (
                    f2 * np.float64(r2[j]) + f3 * np.float64(r3[j])
                )
            i += 4
        while i < n_rows:
            f = factors[i]
            r = grads[i, lo:hi]
            if f != 0.0:
                for j in range(width):
                    acc[j] += f * np.float64(r[j])
            i += 1


_SIG_REDUCE = ["void(f8[:, ::1], f8[::1])"]


@nb.njit(_SIG_REDUCE, parallel=True, cache=True, nogil=True)
def _reduce_rows(partials, out):
    n_chunks, n_cols = partials.shape
    n_blocks = (n_cols + _COL_BLOCK - 1) // _COL_BLOCK
    for b in nb.prange(n_blocks):
        lo = b * _COL_BLOCK
        hi = min(n_cols, lo + _COL_BLOCK)
        for j in range(lo, hi):
            out[j] = partials[0, j]
        for c in range(1, n_chunks):
            for j in range(lo, hi):
                out[j] += partials[c, j]


# Serial twins of the parallel kernels (same arithmetic order, so bit-identical):
# waking worker threads costs more than the whole sum on small inputs.
_SERIAL_CELLS = 1 << 16
_fused_serial = nb.njit(_SIG_FUSED, cache=True, nogil=True, fastmath=_FASTMATH)(_fused.py_func)
_reduce_rows_serial = nb.njit(_SIG_REDUCE, cache=True, nogil=True)(_reduce_rows.py_func)


def clip_scale_sum_kernel(grads, weights, clip):
    """Run the kernel; return ``(out, bad)`` (``bad[i] == 1``: row i not finite).

    No validation: see the module contract.
    """
    n_rows, n_cols = grads.shape
    out = np.zeros(n_cols, dtype=np.float64)
    bad = np.zeros(n_rows, dtype=np.uint8)
    if n_rows == 0 or n_cols == 0:
        return out, bad
    n_chunks = plan_chunks(n_rows, n_cols)
    if n_chunks > 0:
        rows_per_chunk = -(-n_rows // n_chunks)
        n_chunks = -(-n_rows // rows_per_chunk)
        partials = np.empty((n_chunks, n_cols), dtype=np.float64)
        serial = n_rows * n_cols < _SERIAL_CELLS
        (_fused_serial if serial else _fused)(grads, weights, float(clip), rows_per_chunk, partials, bad)
        (_reduce_rows_serial if serial else _reduce_rows)(partials, out)
    else:
        factors = np.empty(n_rows, dtype=np.float64)
        _factors(grads, weights, float(clip), factors, bad)
        _column_sums(grads, factors, _COL_BLOCK, out)
    return out, bad
