"""Numba kernels for the latent-class mixture model of :mod:`redp.synth.mixture`.

Parameter layout (one flat float64 vector ``theta`` of length ``P``), with ``K``
components, categorical cardinalities ``c_1..c_J`` (``offsets = [0, c_1,
c_1+c_2, ..., C]``) and ``D`` continuous columns:

======================================  ============================================
slice                                   meaning
======================================  ============================================
``[0, K)``                              mixing logits ``a_k``
``K + K*offsets[j] + k*c_j + c``        logit of level ``c`` of column ``j`` in ``k``
``K + K*C + k*D + d``                   mean ``mu_kd`` of continuous column ``d``
``K + K*C + K*D + k*D + d``             log standard deviation ``s_kd``
======================================  ============================================

so ``P = K * (1 + C + 2 D)``. The per-example log-likelihood is

.. math::

    \\log p(x) = \\operatorname{logsumexp}_k \\Big[\\log \\pi_k
      + \\sum_j \\log \\operatorname{softmax}(L_{jk})_{x_j}
      + \\sum_d \\log \\mathcal N(x_d; \\mu_{kd}, e^{2 s_{kd}})\\Big]

and the kernels return it, or the analytic gradient of ``-log p(x)`` for every
example (one row each). Rows are independent, so results do not depend on the
number of threads. Inputs: ``theta`` float64 C-contiguous, ``cat_codes`` int64
``(B, J)``, ``offsets`` int64 ``(J+1,)``, ``cont`` float64 ``(B, D)``. The
kernels do not validate: codes must lie in ``[0, c_j)`` (the Python layer checks).
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["PARALLEL_MIN_WORK", "mixture_loglik", "mixture_nll_grad", "n_parameters"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
_CHUNK = 64  # rows per parallel task
#: Output cells (B * P) below which the kernels run on one thread: waking a thread
#: pool costs more than small batches take (and much more on a busy machine).
PARALLEL_MIN_WORK = 1 << 18


def n_parameters(n_components: int, cardinalities, n_cont: int) -> int:
    """Length of the flat parameter vector.

    >>> n_parameters(2, [3, 2], 1)
    16
    """
    return int(n_components) * (1 + int(np.sum(cardinalities, dtype=np.int64)) + 2 * int(n_cont))


@nb.njit(cache=True)
def _prepare(theta, offsets, K, D):
    """Shared per-batch constants: log pi, categorical log-probs, Gaussian terms."""
    C = offsets[offsets.shape[0] - 1]
    J = offsets.shape[0] - 1
    log_pi = np.empty(K)
    m = -np.inf
    for k in range(K):
        m = max(m, theta[k])
    s = 0.0
    for k in range(K):
        s += math.exp(theta[k] - m)
    lse = m + math.log(s)
    for k in range(K):
        log_pi[k] = theta[k] - lse
    logp_cat = np.empty(K * C)
    for j in range(J):
        cj = offsets[j + 1] - offsets[j]
        for k in range(K):
            base = K * offsets[j] + k * cj
            m = -np.inf
            for c in range(cj):
                m = max(m, theta[K + base + c])
            s = 0.0
            for c in range(cj):
                s += math.exp(theta[K + base + c] - m)
            lse = m + math.log(s)
            for c in range(cj):
                logp_cat[base + c] = theta[K + base + c] - lse
    base_mu = K + K * C
    base_s = base_mu + K * D
    inv_var = np.empty(K * D)
    norm = np.empty(K * D)
    for i in range(K * D):
        ls = theta[base_s + i]
        inv_var[i] = math.exp(-2.0 * ls)
        norm[i] = -_HALF_LOG_2PI - ls
    return log_pi, logp_cat, inv_var, norm


@nb.njit(cache=True)
def _joint(theta, codes_row, cont_row, offsets, K, D, log_pi, logp_cat, inv_var, norm, ell):
    """Fill ``ell[k] = log pi_k + log p(x | k)``; return ``logsumexp(ell)``."""
    J = offsets.shape[0] - 1
    C = offsets[J]
    base_mu = K + K * C
    m = -np.inf
    for k in range(K):
        v = log_pi[k]
        for j in range(J):
            cj = offsets[j + 1] - offsets[j]
            v += logp_cat[K * offsets[j] + k * cj + codes_row[j]]
        for d in range(D):
            i = k * D + d
            z = cont_row[d] - theta[base_mu + i]
            v += norm[i] - 0.5 * z * z * inv_var[i]
        ell[k] = v
        m = max(m, v)
    s = 0.0
    for k in range(K):
        s += math.exp(ell[k] - m)
    return m + math.log(s)


@nb.njit(cache=True)
def _grad_row(theta, codes_row, cont_row, offsets, K, D, log_pi, pi, logp_cat, p_cat, inv_var, norm,
              ell, g):
    """Write the gradient of ``-log p(x)`` for one example into ``g``."""
    J = offsets.shape[0] - 1
    C = offsets[J]
    base_mu = K + K * C
    base_s = base_mu + K * D
    lse = _joint(theta, codes_row, cont_row, offsets, K, D, log_pi, logp_cat, inv_var, norm, ell)
    for k in range(K):
        r = math.exp(ell[k] - lse)
        g[k] = pi[k] - r
        for j in range(J):
            cj = offsets[j + 1] - offsets[j]
            base = K * offsets[j] + k * cj
            for c in range(cj):
                g[K + base + c] = r * p_cat[base + c]
            g[K + base + codes_row[j]] -= r
        for d in range(D):
            i = k * D + d
            z = cont_row[d] - theta[base_mu + i]
            zi = z * inv_var[i]
            g[base_mu + i] = -r * zi
            g[base_s + i] = r * (1.0 - z * zi)


@nb.njit(cache=True)
def _loglik_serial(theta, cat_codes, offsets, cont, K):
    D = cont.shape[1]
    log_pi, logp_cat, inv_var, norm = _prepare(theta, offsets, K, D)
    out = np.empty(cat_codes.shape[0])
    ell = np.empty(K)
    for b in range(cat_codes.shape[0]):
        out[b] = _joint(theta, cat_codes[b], cont[b], offsets, K, D, log_pi, logp_cat, inv_var, norm, ell)
    return out


@nb.njit(cache=True, parallel=True)
def _loglik_parallel(theta, cat_codes, offsets, cont, K):
    D = cont.shape[1]
    log_pi, logp_cat, inv_var, norm = _prepare(theta, offsets, K, D)
    B = cat_codes.shape[0]
    out = np.empty(B)
    n_chunks = (B + _CHUNK - 1) // _CHUNK
    for t in nb.prange(n_chunks):
        ell = np.empty(K)
        for b in range(t * _CHUNK, min(B, (t + 1) * _CHUNK)):
            out[b] = _joint(theta, cat_codes[b], cont[b], offsets, K, D, log_pi, logp_cat, inv_var,
                            norm, ell)
    return out


@nb.njit(cache=True)
def _grad_serial(theta, cat_codes, offsets, cont, K):
    D = cont.shape[1]
    log_pi, logp_cat, inv_var, norm = _prepare(theta, offsets, K, D)
    pi = np.exp(log_pi)
    p_cat = np.exp(logp_cat)
    out = np.empty((cat_codes.shape[0], theta.shape[0]))
    ell = np.empty(K)
    for b in range(cat_codes.shape[0]):
        _grad_row(theta, cat_codes[b], cont[b], offsets, K, D, log_pi, pi, logp_cat, p_cat, inv_var,
                  norm, ell, out[b])
    return out


@nb.njit(cache=True, parallel=True)
def _grad_parallel(theta, cat_codes, offsets, cont, K):
    D = cont.shape[1]
    log_pi, logp_cat, inv_var, norm = _prepare(theta, offsets, K, D)
    pi = np.exp(log_pi)
    p_cat = np.exp(logp_cat)
    B = cat_codes.shape[0]
    out = np.empty((B, theta.shape[0]))
    n_chunks = (B + _CHUNK - 1) // _CHUNK
    for t in nb.prange(n_chunks):
        ell = np.empty(K)
        for b in range(t * _CHUNK, min(B, (t + 1) * _CHUNK)):
            _grad_row(theta, cat_codes[b], cont[b], offsets, K, D, log_pi, pi, logp_cat, p_cat,
                      inv_var, norm, ell, out[b])
    return out


def _parallel(n_rows, n_params):
    return n_rows * n_params >= PARALLEL_MIN_WORK and nb.get_num_threads() > 1


def mixture_loglik(theta, cat_codes, offsets, cont, n_components):
    """Per-example log-likelihood ``log p(x_b)``, shape ``(B,)`` float64.

    Runs serially for small batches (``B * P < PARALLEL_MIN_WORK``), in parallel
    over fixed row chunks otherwise; the result is identical either way.
    """
    f = _loglik_parallel if _parallel(cat_codes.shape[0], theta.shape[0]) else _loglik_serial
    return f(theta, cat_codes, offsets, cont, int(n_components))


def mixture_nll_grad(theta, cat_codes, offsets, cont, n_components):
    """Per-example gradient of ``-log p(x_b)`` w.r.t. ``theta``, shape ``(B, P)`` float64.

    With responsibilities ``r_k = softmax(ell)_k``:
    ``d/da_k = pi_k - r_k``; ``d/dL_jkc = r_k (p_jkc - [c = x_j])``;
    ``d/dmu_kd = -r_k (x_d - mu_kd) / sigma_kd^2``;
    ``d/ds_kd = r_k (1 - (x_d - mu_kd)^2 / sigma_kd^2)``.
    Serial below ``PARALLEL_MIN_WORK`` output cells, parallel above (same result).

    Examples
    --------
    >>> import numpy as np
    >>> theta = np.zeros(n_parameters(1, [2], 0))         # one component, one binary column
    >>> g = mixture_nll_grad(theta, np.array([[0], [1]]), np.array([0, 2]), np.zeros((2, 0)), 1)
    >>> g.tolist()                                          # [d/da, d/dL_0, d/dL_1]
    [[0.0, -0.5, 0.5], [0.0, 0.5, -0.5]]
    """
    f = _grad_parallel if _parallel(cat_codes.shape[0], theta.shape[0]) else _grad_serial
    return f(theta, cat_codes, offsets, cont, int(n_components))
