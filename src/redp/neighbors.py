"""Exact and approximate k-nearest-neighbour search: :func:`knn`.

Every stage of redp asks the same question -- which k points of a base set
are closest to each query, and how far are they -- so one function answers
it, and this module only *chooses* how; the compute lives in typed backends.

Backends
--------
``"cpp"``
    ``redp._ext.knn_fused`` (csrc/knn.cpp). GEMM-style loop nest: a base
    block (<= 4 MiB, shared) is packed dimension-major; each thread takes a
    block of queries (<= 256 KiB, L2) and runs a register-tiled micro-kernel
    (12 x 32 with AVX-512, 6 x 16 with AVX2+FMA, 4 x 16 portable; picked at
    run time with ``__builtin_cpu_supports``, no ``-march=native``) that forms
    ``v = ||b||^2 - 2 <q, b>`` in registers and compares it, with one SIMD
    compare, against each query's running k-th best value. After the first
    panels almost nothing survives the compare, so the top-k selection that
    bounds faiss at low d costs next to nothing here. The distance matrix is
    never materialised; the GIL is released; std::thread workers.
``"numba"``
    :func:`redp._kernels.knn.knn_fused`, the same algorithm in loops LLVM
    vectorises (``prange`` over query blocks).
``"faiss"``
    ``faiss.IndexFlatL2`` for ``exact=True``; for ``exact=False`` an
    ``IndexIVFFlat`` (``4 sqrt(n)`` lists) whose ``nprobe`` is *calibrated*:
    on a deterministic sample of 512 queries the exact kernel gives the truth
    and ``nprobe`` doubles until the measured recall@k reaches 0.95. The
    exact ``cpp`` kernel runs instead when inverted lists cannot pay: base
    under 20,000 points, relative contrast (median k-th neighbour distance /
    median distance to arbitrary base points) above 0.2 -- iid Gaussian data
    measured 0.28 at d = 8, 0.61 at d = 32, 0.82 at d = 128, clustered
    low-intrinsic-dimension data about 0.05 -- or a calibrated ``nprobe``
    above 1/32 of the lists. So ``exact=False`` reaches recall 0.95 on the
    sample and is not meant to be slower than exact search.
``"reference"``
    :func:`redp._reference.knn_reference`, chunked float64 NumPy, the oracle.

Every backend ends with the same refinement: the distances of the k selected
points are recomputed exactly (float64 sum of squared differences, rounded to
float32) and rows are sorted by (distance, index). Selection uses float32
``||q||^2 + ||b||^2 - 2 <q, b>``, so at a near-tie at the k-th distance
(within float32 rounding of the squared norms) backends may pick different,
equally near points. Results of ``"cpp"`` and ``"numba"`` do not depend on
the thread count.

Dispatch rule (``backend="auto"``), measured on a 2-core AMD EPYC (Zen 4,
AVX-512), self-join, k = 10, medians of 3 (benchmarks/compare_knn.py; the
machine was shared, so the numbers are provisional): at n = 1e5 ``cpp`` took
1.1 s / 3.2 s / 11.6 s at d = 8 / 32 / 128 (144 / 198 / 220 GFLOP/s-equivalent)
against 20.9 s / 9.5 s / 27.7 s for ``faiss.IndexFlatL2`` (18.8x / 3.0x /
2.4x); at n = 2e4 and 1e4 it also beat faiss, scikit-learn (brute) and the
Numba kernel (3.5-6x slower than ``cpp``) at every d. So exact search always
uses ``cpp`` (``numba`` if the extension is missing). ``exact=False`` uses the
calibrated IVF path above: clustered d = 32, n = 1e5: 0.62 s, recall@10 0.983
(22x faster than faiss flat); iid Gaussian d = 32 falls back to exact search
(recall 1.0, 2.8x faster than faiss flat).

Memory
------
Extra memory beyond the float32 inputs and the outputs stays below
``max_memory_bytes`` (default 256 MiB): ``cpp`` uses one packed base block
(``min(4 MiB, budget / 2)``) plus one packed query block per thread;
``numba`` uses ``(32 + 256) * d * 4`` bytes plus 32 heaps per thread;
``faiss`` searches queries in chunks sized to the budget but, as faiss
indexes own their vectors, also holds a copy of ``base`` (outside the bound);
``reference``
chunks its float64 distance rows to the budget. float64 (or integer) input
is converted to float32 once, which is a copy of the input.

Examples
--------
>>> import numpy as np
>>> from redp.neighbors import knn
>>> x = np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [0.0, 0.0]], dtype=np.float32)
>>> dist, idx = knn(x, k=2)
>>> idx
array([[3, 1],
       [0, 3],
       [0, 3],
       [0, 1]])
>>> dist[0]
array([0., 1.], dtype=float32)
"""

from __future__ import annotations

import contextlib
import os

import numpy as np

from ._validation import check_int
from .errors import InputTypeError

__all__ = ["knn", "BACKENDS"]

BACKENDS = ("auto", "cpp", "numba", "faiss", "reference")

DEFAULT_MAX_MEMORY_BYTES = 256 << 20
_MIN_MEMORY_BYTES = 1 << 20
_FLOAT32_MAX = float(np.finfo(np.float32).max)

# approximate mode
_TARGET_RECALL = 0.95
_APPROX_MIN_BASE = 20_000  # below this exact search is cheaper than building an index
_APPROX_MAX_SCAN = 1 / 32  # fraction of inverted lists beyond which exact search wins
_APPROX_MAX_CONTRAST = 0.2  # relative contrast beyond which IVF is not tried
_CALIBRATION_QUERIES = 512


def knn(
    queries,
    base=None,
    k=10,
    *,
    backend="auto",
    exact=True,
    n_threads=None,
    max_memory_bytes=None,
):
    r"""The ``k`` nearest base points of every query (Euclidean distance).

    .. math:: \operatorname{dist}(q, b) = \Big(\sum_{t=1}^{d} (q_t - b_t)^2\Big)^{1/2}

    Parameters
    ----------
    queries : array_like of shape (n_queries, d)
        Numeric (integer or floating) 2-D array, finite values only. float32
        C-ordered input is used as is; any other dtype or layout (float64
        included) is converted to float32 once.
    base : array_like of shape (n_base, d) or None, default None
        Points to search. ``None`` means a self-join on ``queries``: row ``i``
        never lists itself (by index), but exact duplicates of it are found at
        distance 0.
    k : int, default 10
        Neighbours per query, ``1 <= k <= n_base`` (``n_queries - 1`` for a
        self-join).
    backend : {"auto", "cpp", "numba", "faiss", "reference"}, default "auto"
        Implementation; see the module docstring for the dispatch rule.
    exact : bool, default True
        ``False`` allows approximate search (``backend`` "auto" or "faiss"):
        IVF with ``nprobe`` calibrated to a measured recall@k >= 0.95, or exact
        search where that would not be faster.
    n_threads : int or None, default None
        Threads for the ``cpp``, ``numba`` and ``faiss`` backends; ``None``
        uses all cores available to the process.
    max_memory_bytes : int or None, default None
        Bound on extra memory beyond the float32 inputs and the outputs;
        ``None`` means 256 MiB. At least 1 MiB.

    Returns
    -------
    distances : ndarray of float32, shape (n_queries, k)
        Euclidean distances, ascending along each row.
    indices : ndarray of int64, shape (n_queries, k)
        Row numbers in ``base``; equal distances are ordered by index.

    Raises
    ------
    InputTypeError
        Non-numeric input (bool, complex, object, str) or a wrongly typed
        parameter.
    ValueError
        Non-2-D input, zero rows or columns, NaN or infinite values (also
        after conversion to float32), values too large for float32 squared
        distances, a dimension mismatch, ``k`` out of range, an unknown
        backend, or ``exact=False`` with an exact-only backend.

    Examples
    --------
    >>> import numpy as np
    >>> from redp.neighbors import knn
    >>> base = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    >>> queries = np.array([[0.9, 0.1]])
    >>> dist, idx = knn(queries, base, k=2)
    >>> idx
    array([[1, 0]])
    >>> np.round(dist, 4)
    array([[0.1414, 0.9055]], dtype=float32)
    """
    func = "knn"
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(
            f"The 'backend' parameter of {func} must be one of {', '.join(map(repr, BACKENDS))}. "
            f"Got {backend!r} instead."
        )
    if not isinstance(exact, (bool, np.bool_)):
        raise InputTypeError(f"The 'exact' parameter of {func} must be a bool. Got {exact!r} instead.")
    exact = bool(exact)
    if not exact and backend not in ("auto", "faiss"):
        raise ValueError(
            f"The 'exact' parameter of {func} may be False only with backend 'auto' or 'faiss'; "
            f"backend {backend!r} is exact. Got exact=False instead."
        )
    threads = _resolve_threads(n_threads, func)
    if max_memory_bytes is None:
        mem = DEFAULT_MAX_MEMORY_BYTES
    else:
        mem = check_int(max_memory_bytes, "max_memory_bytes", func, low=_MIN_MEMORY_BYTES)

    q = _as_points(queries, "queries", func)
    self_join = base is None
    if self_join:
        b = q
    else:
        b = _as_points(base, "base", func)
        if b.shape[1] != q.shape[1]:
            raise ValueError(
                f"The 'base' parameter of {func} must have as many columns as 'queries' "
                f"({q.shape[1]}). Got {b.shape[1]} instead."
            )
    k = check_int(k, "k", func, low=1)
    if self_join and k > q.shape[0] - 1:
        raise ValueError(
            f"Expected k <= n_samples - 1 = {q.shape[0] - 1} for a self-join (base=None excludes "
            f"each point itself), but k = {k}. Lower k or pass a separate base."
        )
    if not self_join and k > b.shape[0]:
        raise ValueError(f"Expected k <= n_base = {b.shape[0]}, but k = {k}. Lower k or enlarge base.")

    if backend == "auto":
        backend = "faiss" if not exact else ("cpp" if _have_cpp() else "numba")
    if backend == "cpp":
        return _knn_cpp(q, b, k, self_join, threads, mem)
    if backend == "numba":
        return _knn_numba(q, b, k, self_join, threads)
    if backend == "faiss":
        if exact:
            return _knn_faiss_flat(q, b, k, self_join, threads, mem)
        return _knn_faiss_approx(q, b, k, self_join, threads, mem)
    from ._reference import knn_reference

    return knn_reference(q, b, k, self_join=self_join, max_memory_bytes=mem)


# --- validation ---------------------------------------------------------------


def _resolve_threads(n_threads, func):
    if n_threads is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)
    return check_int(n_threads, "n_threads", func, low=1)


def _as_points(x, name, func):
    """Validate one point set and return it as C-ordered float32 (one copy at most)."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise InputTypeError(
            f"The '{name}' parameter of {func} must be a numeric 2-D array. Got {type(x).__name__} "
            f"that NumPy cannot convert ({exc}) instead."
        ) from None
    if arr.dtype.kind not in "iuf":
        raise InputTypeError(
            f"The '{name}' parameter of {func} must be a numeric (integer or floating) array. "
            f"Got dtype {arr.dtype} instead."
        )
    if arr.ndim != 2:
        raise ValueError(
            f"The '{name}' parameter of {func} must be a 2-D array of shape (n_samples, n_features). "
            f"Got an array of shape {arr.shape} instead. Reshape 1-D data with x.reshape(-1, 1) "
            f"(one feature) or x.reshape(1, -1) (one sample)."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"The '{name}' parameter of {func} must have at least one row and one column. "
            f"Got shape {arr.shape} instead."
        )
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.ascontiguousarray(arr, dtype=np.float32)
    lo, hi = float(out.min()), float(out.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        r, c = (int(v) for v in np.argwhere(~np.isfinite(out))[0])
        raise ValueError(
            f"The '{name}' parameter of {func} must contain only finite values (after conversion to "
            f"float32). Got {arr[r, c].item()!r} at row {r}, column {c} instead."
        )
    limit = float(np.sqrt(_FLOAT32_MAX / (4.0 * out.shape[1])))
    if max(abs(lo), abs(hi)) > limit:
        raise ValueError(
            f"The '{name}' parameter of {func} must have absolute values <= {limit:.3g} so that "
            f"squared distances fit in float32. Got {max(abs(lo), abs(hi)):.3g} instead; rescale "
            f"the data."
        )
    return out


# --- backends -------------------------------------------------------------------


def _have_cpp():
    try:
        from . import _ext
    except ImportError:  # pragma: no cover - extension not built
        return False
    return hasattr(_ext, "knn_fused")


def _empty_out(nq, k):
    return np.empty((nq, k), dtype=np.float32), np.empty((nq, k), dtype=np.int64)


def _knn_cpp(q, b, k, self_join, threads, mem):
    from . import _ext

    out_d, out_i = _empty_out(q.shape[0], k)
    _ext.knn_fused(q, b, k, self_join, threads, mem, "auto", out_d, out_i)
    return out_d, out_i


@contextlib.contextmanager
def _numba_threads(n):
    import numba

    old = numba.get_num_threads()
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(old)


def _knn_numba(q, b, k, self_join, threads):
    from ._kernels.knn import knn_fused

    out_d, out_i = _empty_out(q.shape[0], k)
    with _numba_threads(threads):
        knn_fused(q, b, k, self_join, out_d, out_i)
    return out_d, out_i


@contextlib.contextmanager
def _faiss_threads(n):
    import faiss

    old = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(n)
    try:
        yield faiss
    finally:
        faiss.omp_set_num_threads(old)


def _refine(q, b, cand, k, self_join, threads):
    """Exact distances of candidate rows, self removed, sorted, top k kept."""
    from . import _ext

    out_d, out_i = _empty_out(q.shape[0], k)
    _ext.knn_refine(q, b, np.ascontiguousarray(cand, dtype=np.int64), k, self_join, threads, out_d, out_i)
    return out_d, out_i


def _query_chunk(k, mem):
    # candidates (k + 1) as float32 distances + int64 labels, twice (faiss + refined copy)
    return max(1, int(mem // (2 * 12 * (k + 1))))


def _knn_faiss_flat(q, b, k, self_join, threads, mem):
    with _faiss_threads(threads) as faiss:
        index = faiss.IndexFlatL2(b.shape[1])
        index.add(b)
        return _faiss_search(index, q, b, k, self_join, threads, mem)


def _faiss_search(index, q, b, k, self_join, threads, mem):
    """Search in query chunks (k + 1 candidates for a self-join), then refine."""
    kk = k + 1 if self_join else k
    nq = q.shape[0]
    out_d, out_i = _empty_out(nq, k)
    step = _query_chunk(k, mem)
    for s in range(0, nq, step):
        e = min(s + step, nq)
        _, cand = index.search(q[s:e], kk)
        if self_join:
            # knn_refine drops the candidate equal to the query's own row;
            # the offset keeps row numbers global inside the chunk.
            d_c, i_c = _refine_rows(q, b, cand, k, s, threads)
        else:
            d_c, i_c = _refine(q[s:e], b, cand, k, False, threads)
        out_d[s:e], out_i[s:e] = d_c, i_c
    return out_d, out_i


def _refine_rows(q, b, cand, k, start, threads):
    """Refine candidates of query rows start..start+len(cand), excluding each row's own index."""
    rows = np.arange(start, start + cand.shape[0])
    cand = np.where(cand == rows[:, None], -1, cand)
    return _refine(q[start : start + cand.shape[0]], b, cand, k, False, threads)


def _knn_faiss_approx(q, b, k, self_join, threads, mem):
    nb, d = b.shape
    nlist = int(min(4 * np.sqrt(nb), nb // 20))
    if nb < _APPROX_MIN_BASE or nlist < 16:
        return _knn_cpp(q, b, k, self_join, threads, mem)
    # Deterministic calibration sample, its exact neighbours, and the relative
    # contrast (k-th neighbour distance / distance to arbitrary base points):
    # near 1 for iid high-dimensional data, where inverted lists cannot help.
    step = max(1, q.shape[0] // _CALIBRATION_QUERIES)
    rows = np.arange(0, q.shape[0], step)[:_CALIBRATION_QUERIES]
    sample = np.ascontiguousarray(q[rows])
    truth = _truth_for_rows(sample, b, k, rows if self_join else None, threads, mem)
    if _relative_contrast(sample, b, truth) > _APPROX_MAX_CONTRAST:
        return _knn_cpp(q, b, k, self_join, threads, mem)
    with _faiss_threads(threads) as faiss:
        quantizer = faiss.IndexFlatL2(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist)
        index.cp.niter = 10
        index.cp.min_points_per_centroid = 1  # 20 points per list suffice here
        n_train = min(nb, 20 * nlist)
        index.train(b[:: max(1, nb // n_train)][:n_train])
        index.add(b)
        nprobe = _calibrate_nprobe(index, sample, truth, rows, k, self_join, nlist)
        if nprobe is None:
            return _knn_cpp(q, b, k, self_join, threads, mem)
        index.nprobe = nprobe
        out_d, out_i = _faiss_search(index, q, b, k, self_join, threads, mem)
    # Rows whose probed lists held fewer than k points: answer them exactly.
    short = np.flatnonzero(out_i[:, -1] < 0)
    if short.size:
        sub = np.ascontiguousarray(q[short])
        cand = _truth_for_rows(sub, b, k, short if self_join else None, threads, mem)
        out_d[short], out_i[short] = _refine(sub, b, cand, k, False, threads)
    return out_d, out_i


def _relative_contrast(sample, b, truth):
    """median k-th neighbour distance / median distance to 64 spread-out base points."""
    kth = np.sqrt(((sample - b[truth[:, -1]]) ** 2).sum(1))
    probe = b[np.linspace(0, b.shape[0] - 1, 64).astype(np.int64)]
    far = np.sqrt(((sample[:, None, :] - probe[None]) ** 2).sum(-1))
    return float(np.median(kth) / max(np.median(far), np.finfo(np.float32).tiny))


def _calibrate_nprobe(index, sample, truth, rows, k, self_join, nlist):
    """Smallest power-of-two nprobe with sample recall@k >= 0.95, or None."""
    nprobe = 1
    while nprobe <= nlist * _APPROX_MAX_SCAN:
        index.nprobe = nprobe
        _, cand = index.search(sample, k + 1 if self_join else k)
        if self_join:
            cand = np.where(cand == rows[:, None], -1, cand)
        if _recall(truth, cand) >= _TARGET_RECALL:
            return nprobe
        nprobe *= 2
    return None


def _truth_for_rows(sample, b, k, rows, threads, mem):
    if rows is None:
        return _knn_cpp(sample, b, k, False, threads, mem)[1]
    _, idx = _knn_cpp(sample, b, k + 1, False, threads, mem)
    out = np.empty((len(rows), k), dtype=np.int64)
    for r, row in enumerate(rows):
        keep = idx[r][idx[r] != row]
        out[r] = keep[:k]
    return out


def _recall(truth, found):
    """Mean fraction of true neighbour indices present among the found ones."""
    hits = sum(len(np.intersect1d(t, f, assume_unique=False)) for t, f in zip(truth, found))
    return hits / truth.size
