"""Numba fused kNN kernel: blocked dot products, running k-th threshold, heap.

Same algorithm as ``csrc/knn.cpp`` in plain loops that LLVM vectorises:
``prange`` over blocks of ``QB`` queries; for each block of ``BB`` base points
(transposed into a ``(d, BB)`` scratch tile so the innermost loop is
contiguous), four queries at a time accumulate ``<q, b>`` into an L1-resident
tile, then ``v = ||b||^2 - 2 <q, b>`` is compared with the query's running
k-th best value and only survivors touch the max-heap. Ties go to the smaller
index because the base is scanned in index order and a candidate must be
strictly better. A final pass recomputes exact float64 distances of the k
survivors and sorts them by (float32 distance, index).

Input contract: C-contiguous float32 ``(n, d)`` arrays, validated by
:func:`redp.neighbors.knn`; outputs are preallocated by the caller.
"""

from __future__ import annotations

import numba as nb
import numpy as np

QB = 32  # queries per parallel task
BB = 256  # base points per tile
_NO_INDEX = np.iinfo(np.int64).max

_SIG = "void(float32[:, ::1], float32[:, ::1], int64, boolean, float32[:, ::1], int64[:, ::1])"


@nb.njit(cache=True, inline="always")
def _heap_replace_top(hv, hi, k, v, idx):
    i = 0
    while True:
        c = 2 * i + 1
        if c >= k:
            break
        if c + 1 < k and (hv[c + 1] > hv[c] or (hv[c + 1] == hv[c] and hi[c + 1] > hi[c])):
            c += 1
        if not (hv[c] > v or (hv[c] == v and hi[c] > idx)):
            break
        hv[i] = hv[c]
        hi[i] = hi[c]
        i = c
    hv[i] = v
    hi[i] = idx


@nb.njit(_SIG, parallel=True, cache=True, nogil=True)
def knn_fused(queries, base, k, self_join, out_d, out_i):  # pragma: no cover - jitted
    """Exact kNN of every query row among ``base`` rows, written to out_d/out_i."""
    nq, d = queries.shape
    nbase = base.shape[0]
    n_blocks = (nq + QB - 1) // QB
    for t in nb.prange(n_blocks):
        q0 = t * QB
        nqb = min(QB, nq - q0)
        qb = np.zeros((QB, d), dtype=np.float32)
        for r in range(nqb):
            for kk in range(d):
                qb[r, kk] = queries[q0 + r, kk]
        hv = np.full((QB, k), np.inf, dtype=np.float32)
        hi = np.full((QB, k), _NO_INDEX, dtype=np.int64)
        bt = np.empty((d, BB), dtype=np.float32)
        bn = np.empty(BB, dtype=np.float32)
        acc = np.empty((4, BB), dtype=np.float32)
        for b0 in range(0, nbase, BB):
            nbb = min(BB, nbase - b0)
            for j in range(nbb):
                s = np.float32(0.0)
                for kk in range(d):
                    x = base[b0 + j, kk]
                    bt[kk, j] = x
                    s += x * x
                bn[j] = s
            for r0 in range(0, nqb, 4):
                for j in range(nbb):
                    acc[0, j] = 0.0
                    acc[1, j] = 0.0
                    acc[2, j] = 0.0
                    acc[3, j] = 0.0
                for kk in range(d):
                    a0 = qb[r0, kk]
                    a1 = qb[r0 + 1, kk]
                    a2 = qb[r0 + 2, kk]
                    a3 = qb[r0 + 3, kk]
                    for j in range(nbb):
                        b = bt[kk, j]
                        acc[0, j] += a0 * b
                        acc[1, j] += a1 * b
                        acc[2, j] += a2 * b
                        acc[3, j] += a3 * b
                for rr in range(min(4, nqb - r0)):
                    r = r0 + rr
                    gi = q0 + r
                    thr = hv[r, 0]
                    for j in range(nbb):
                        v = bn[j] - np.float32(2.0) * acc[rr, j]
                        if v < thr:
                            gj = b0 + j
                            if self_join and gj == gi:
                                continue
                            _heap_replace_top(hv[r], hi[r], k, v, gj)
                            thr = hv[r, 0]
        # exact refinement and sort by (float32 distance, index)
        dist = np.empty(k, dtype=np.float32)
        for r in range(nqb):
            gi = q0 + r
            for c in range(k):
                j = hi[r, c]
                s = 0.0
                for kk in range(d):
                    diff = np.float64(queries[gi, kk]) - np.float64(base[j, kk])
                    s += diff * diff
                dist[c] = np.float32(np.sqrt(s))
            by_index = np.argsort(hi[r], kind="mergesort")
            order = by_index[np.argsort(dist[by_index], kind="mergesort")]
            for c in range(k):
                out_d[gi, c] = dist[order[c]]
                out_i[gi, c] = hi[r, order[c]]
