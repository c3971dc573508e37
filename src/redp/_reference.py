"""Slow, obviously-correct NumPy references for every compiled or jitted kernel.

Tests compare each backend against the function here on random and edge
inputs. Nothing in this module is used on a fast path. Keep each reference in
its own section, named after the kernel it checks.
"""

from __future__ import annotations

import numpy as np

# --- neighbours (redp.neighbors / csrc/knn.cpp / _kernels/knn.py) -----------


def knn_reference(queries, base, k, *, self_join=False, max_memory_bytes=1 << 26):
    """Exact kNN by chunked float64 NumPy: the oracle for every knn backend.

    Squared distances are computed in float64 for a chunk of queries at a
    time (``||q||^2 + ||b||^2 - 2 q.b``, at most ``max_memory_bytes`` of
    temporaries), the ``k`` smallest are selected with a stable sort (ties by
    smaller index), then their distances are recomputed exactly as
    ``sqrt(sum((q - b)**2))`` in float64, rounded to float32 and sorted by
    (distance, index). With ``self_join`` the query ``i`` never lists base
    point ``i`` (duplicates of it are still found).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0], [1.0], [3.0]], dtype=np.float32)
    >>> d, i = knn_reference(x, x, 1, self_join=True)
    >>> i.ravel().tolist(), d.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    """
    q = np.asarray(queries, dtype=np.float64)
    b = np.asarray(base, dtype=np.float64)
    nq, nb = q.shape[0], b.shape[0]
    bn = np.einsum("ij,ij->i", b, b)
    chunk = max(1, int(max_memory_bytes // (8 * 3 * max(nb, 1))))
    out_d = np.empty((nq, k), dtype=np.float32)
    out_i = np.empty((nq, k), dtype=np.int64)
    for s in range(0, nq, chunk):
        e = min(s + chunk, nq)
        qc = q[s:e]
        d2 = np.einsum("ij,ij->i", qc, qc)[:, None] + bn[None, :] - 2.0 * (qc @ b.T)
        if self_join:
            d2[np.arange(e - s), np.arange(s, e)] = np.inf
        idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
        diff = qc[:, None, :] - b[idx]
        dist = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff)).astype(np.float32)
        order = np.lexsort((idx, dist), axis=1)
        out_d[s:e] = np.take_along_axis(dist, order, axis=1)
        out_i[s:e] = np.take_along_axis(idx, order, axis=1)
    return out_d, out_i


# --- DP-SGD aggregation (redp.mechanisms.clip_scale_sum) --------------------


def clip_scale_sum_reference(per_sample_grads, weights, C):
    """``sum_i w_i min(1, C / ||g_i||) g_i`` in float64 NumPy (checks ``_kernels.aggregate``).

    >>> clip_scale_sum_reference(np.array([[3.0, 4.0]]), np.array([0.5]), 1.0)
    array([0.3, 0.4])
    """
    g = np.asarray(per_sample_grads, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    norms = np.sqrt(np.sum(g * g, axis=1))
    safe = np.where(norms > C, norms, 1.0)
    factors = w * np.where(norms > C, C / safe, 1.0)
    return (factors[:, None] * g).sum(axis=0)


# --- discrete Gaussian (redp.mechanisms.discrete_gaussian / csrc/sampling.cpp) --
# Canonne, Kamath & Steinke (2020), Algorithms 1-3, in exact Fraction arithmetic.
# Randomness: uniform integers built from 63-bit draws of a numpy Generator.


def _dg_uniform(n, rng):
    """Uniform int in [0, n) for any n >= 1 (rejection on whole 63-bit words)."""
    bits = n.bit_length()
    words = -(-bits // 63)
    while True:
        x = 0
        for _ in range(words):
            x = (x << 63) | int(rng.integers(0, 2**63))
        x >>= 63 * words - bits
        if x < n:
            return x


def _dg_bernoulli(p, rng):
    return _dg_uniform(p.denominator, rng) < p.numerator


def _dg_bexp1(x, rng):  # Bernoulli(exp(-x)), 0 <= x <= 1
    k = 1
    while _dg_bernoulli(x / k, rng):
        k += 1
    return k % 2 == 1


def _dg_bexp(x, rng):  # Bernoulli(exp(-x)), x >= 0
    from fractions import Fraction

    while x > 1:
        if _dg_bexp1(Fraction(1), rng):
            x -= 1
        else:
            return False
    return _dg_bexp1(x, rng)


def _dg_dlaplace(t, rng):  # P(y) ~ exp(-|y| / t), t a positive int
    from fractions import Fraction

    while True:
        sign = _dg_bernoulli(Fraction(1, 2), rng)
        while True:
            u = _dg_uniform(t, rng)
            if _dg_bexp(Fraction(u, t), rng):
                break
        v = 0
        while _dg_bexp(Fraction(1), rng):
            v += 1
        mag = v * t + u
        if sign and mag == 0:
            continue
        return -mag if sign else mag


def discrete_gaussian_reference(n, sigma2, rng):
    """``n`` exact discrete Gaussian draws for a rational ``sigma2`` (slow: ~100 us each).

    >>> from fractions import Fraction
    >>> x = discrete_gaussian_reference(3, Fraction(9), np.random.default_rng(0))
    >>> x.dtype, x.shape
    (dtype('int64'), (3,))
    """
    import math
    from fractions import Fraction

    sigma2 = Fraction(sigma2)
    t = math.isqrt(math.floor(sigma2)) + 1
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        while True:
            c = _dg_dlaplace(t, rng)
            bias = (abs(c) - sigma2 / t) ** 2 / (2 * sigma2)
            if _dg_bexp(bias, rng):
                out[i] = c
                break
    return out


# --- histograms and sampling (redp.synth) -----------------------------------


def weighted_bincount_ref(codes, weights, n_cells):
    """``out[c] = sum of weights[i] with codes[i] == c`` (redp._kernels.histogram.weighted_bincount)."""
    codes = np.asarray(codes, dtype=np.int64)
    w = np.ones(codes.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    out = np.zeros(int(n_cells), dtype=np.float64)
    np.add.at(out, codes, w)
    return out


def weighted_bincount2_ref(a, b, card_a, card_b, weights):
    """2-way weighted table ``(card_a, card_b)`` (redp._kernels.histogram.weighted_bincount2)."""
    idx = np.asarray(a, dtype=np.int64) * int(card_b) + np.asarray(b, dtype=np.int64)
    return weighted_bincount_ref(idx, weights, int(card_a) * int(card_b)).reshape(int(card_a), int(card_b))


def splitmix_uniform_ref(seed, counter):
    """The counter-based uniform of redp._kernels.ancestral, in pure Python integers."""
    mask = (1 << 64) - 1
    z = (int(seed) + (int(counter) + 1) * 0x9E3779B97F4A7C15) & mask
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    z ^= z >> 31
    return (z >> 11) / 9007199254740992.0


def sample_tree_ref(n, order, parent, card, offset, cdf, seed):
    """Row-by-row ancestral sampling with the same uniforms (redp._kernels.ancestral.sample_tree)."""
    d = len(order)
    out = np.empty((int(n), d), dtype=np.int32)
    for i in range(int(n)):
        for j in order:
            p = parent[j]
            start = offset[j] + (out[i, p] * card[j] if p >= 0 else 0)
            u = splitmix_uniform_ref(seed, i * d + j)
            row = np.asarray(cdf[start:start + card[j]])
            out[i, j] = min(int(np.searchsorted(row, u, side="right")), card[j] - 1)
    return out

# --- privacy accounting (redp.accounting: _series RDP kernel, per_record) ---


def subsampled_gaussian_rdp_quadrature(q, sigma, order, n_points=400_001):
    """One-step RDP of the Poisson-subsampled Gaussian by brute-force quadrature.

    ``log(E_{z~N(0,s^2)}[(1 - q + q exp((2z-1)/(2 s^2)))^a]) / (a - 1)`` by the
    trapezoid rule on a wide, fine grid (exponentially accurate for this smooth,
    Gaussian-tailed integrand). Independent of the series in
    ``redp.accounting._series``; reliable to ~1e-12 relative while the RDP is
    not tiny (say > 1e-6) and the integrand does not overflow.
    """
    a = float(order)
    z_hi = a + 40.0 * sigma  # the integrand peaks near z = a
    z = np.linspace(-40.0 * sigma, z_hi, n_points)
    log_ratio = (2.0 * z - 1.0) / (2.0 * sigma**2)
    log_mix = np.logaddexp(np.log1p(-q), np.log(q) + log_ratio) if q < 1 else np.log(q) + log_ratio
    log_f = -0.5 * (z / sigma) ** 2 - np.log(sigma * np.sqrt(2.0 * np.pi)) + a * log_mix
    m = log_f.max()
    h = z[1] - z[0]
    f = np.exp(log_f - m)
    integral = h * (f.sum() - 0.5 * (f[0] + f[-1]))
    return (m + np.log(integral)) / (a - 1.0)


def per_record_epsilon_reference(weights, delta, *, full_batch=0.0, dpsgd=None, uniform_rho=0.0, grid=256,
                                 orders=None):
    """Per-record epsilon one record at a time, no bucketing (checks redp.accounting.per_record)."""
    import math

    from redp.accounting import DEFAULT_ORDERS, rdp_to_epsilon, subsampled_gaussian_rdp, zcdp_to_epsilon

    orders = np.asarray(DEFAULT_ORDERS if orders is None else orders, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    out = np.empty(w.size)
    for i, wi in enumerate(w):
        k = math.ceil(wi * grid)
        if k / grid < wi:
            k += 1
        wq = k / grid
        rho_i = uniform_rho + wq * wq * full_batch
        if dpsgd is None:
            out[i] = zcdp_to_epsilon(rho_i, delta)
            continue
        q, sigma, steps = dpsgd
        sub = subsampled_gaussian_rdp(q, sigma / wq, steps, orders) if wq > 0 else np.zeros_like(orders)
        out[i] = rdp_to_epsilon(orders, sub + orders * rho_i, delta)[0]
    return out.reshape(np.shape(weights))
