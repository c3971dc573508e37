"""Shadow-model membership attack (LiRA-style, per-target; not DP).

The attacker knows the synthesizer (as a callable that fits on rows and
returns synthetic rows) and holds an auxiliary reference sample from the
population. For each attacked target ``x`` it

1. fits ``n_shadow`` "out" shadow synthesizers on random subsets of the
   reference sample (shared by all targets) and ``n_shadow`` "in" shadow
   synthesizers on the same subsets with one row replaced by ``x``;
2. computes a simple statistic of ``x`` against every shadow synthetic sample,
   by default the negative distance to the closest synthetic record (DCR), or
   the negative mean distance to the ``k`` closest;
3. fits a Gaussian to the "in" and to the "out" statistics and scores the
   statistic observed on the *released* synthetic table by the log likelihood
   ratio (Carlini et al. 2022, "Membership inference attacks from first
   principles"), i.e. a per-target threshold test.

It is the strongest attack here and the most expensive one:
``n_shadow * (1 + max_targets)`` synthesizer fits, run in parallel over
targets. The scores read private records and are **not** differentially
private.

Examples
--------
>>> import numpy as np
>>> def copy_fit_sample(rows, rng):          # a "synthesizer" that memorises
...     return rows + rng.normal(scale=0.01, size=rows.shape)
>>> g = np.random.default_rng(0)
>>> members, non_members = g.normal(size=(20, 2)), g.normal(size=(20, 2))
>>> reference = g.normal(size=(200, 2))
>>> released = copy_fit_sample(np.vstack([members, reference[:80]]), g)
>>> res = shadow(np.vstack([members, non_members]), released, reference,
...              copy_fit_sample, n_shadow=4, n_train=100, rng=1, n_workers=1)
>>> from redp.audit import roc_auc
>>> roc_auc(res.scores, np.repeat([1, 0], 20)) > 0.9
True
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .._validation import as_generator, check_int
from ..errors import InputTypeError
from .attacks import _as_encoded, _knn_dist

__all__ = ["shadow", "ShadowResult"]


@dataclass(frozen=True)
class ShadowResult:
    """Output of :func:`shadow` (not DP).

    Attributes
    ----------
    index : ndarray of int64 (m,)
        Positions (into ``targets``) of the attacked targets, sorted.
    scores : ndarray of float64 (m,)
        Log likelihood ratio "in" vs "out"; higher = member.
    observed : ndarray (m,)
        Statistic of each target on the released synthetic table.
    in_stats, out_stats : ndarray (m, n_shadow)
        Statistic on the "in" / "out" shadow samples.
    """

    index: np.ndarray
    scores: np.ndarray
    observed: np.ndarray
    in_stats: np.ndarray
    out_stats: np.ndarray


def _default_encode(rows):
    return rows


def _stat(enc_queries: np.ndarray, syn_rows, encode, k: int, backend: str) -> np.ndarray:
    S = _as_encoded(encode(syn_rows), "fit_sample(...) output", "shadow", enc_queries.shape[1])
    kk = min(k, len(S))
    return -_knn_dist(enc_queries, S, kk, backend).mean(axis=1)


def _out_task(args):
    fit_sample, encode, rows, seed, enc_targets, k, backend = args
    syn = fit_sample(rows, np.random.default_rng(seed))
    return _stat(enc_targets, syn, encode, k, backend)


def _in_task(args):
    fit_sample, encode, reference, subsets, positions, target_row, enc_target, seeds, k, backend = args
    out = np.empty(len(seeds))
    for j, seed in enumerate(seeds):
        rows = reference[subsets[j]].copy()
        rows[positions[j]] = target_row
        syn = fit_sample(rows, np.random.default_rng(seed))
        out[j] = _stat(enc_target[None, :], syn, encode, k, backend)[0]
    return out


def _log_normal(x, mu, sd):
    return -0.5 * ((x - mu) / sd) ** 2 - np.log(sd)


def shadow(
    targets,
    synthetic,
    reference,
    fit_sample,
    *,
    n_shadow: int = 8,
    n_train: int | None = None,
    max_targets: int | None = None,
    k: int = 1,
    encode=None,
    fixed_variance: bool = True,
    n_workers: int | None = None,
    executor=None,
    rng=None,
    backend: str = "auto",
) -> ShadowResult:
    """Shadow-model attack with per-target Gaussian likelihood ratios.

    Not DP: reads the targets.

    Parameters
    ----------
    targets : array_like (n_targets, ...)
        Target rows in the representation ``fit_sample`` takes (e.g. marginal
        codes or already-encoded floats).
    synthetic : array_like (n_S, ...)
        The released synthetic rows, same representation as ``fit_sample``'s
        output.
    reference : array_like (n_ref, ...)
        The attacker's auxiliary sample, rows like ``targets``, disjoint from
        them.
    fit_sample : callable ``(rows, rng) -> synthetic rows``
        Fits the attacked synthesizer on ``rows`` and returns a synthetic
        sample (any size). Must be picklable when ``executor`` is a process
        pool.
    n_shadow : int, default 8
        Shadow models per side ("in" per target, "out" shared), >= 2.
    n_train : int, optional
        Rows per shadow training set (the victim's training size when known);
        default ``len(reference) // 2``.
    max_targets : int, optional
        Attack at most this many targets, drawn at random (cost bound);
        default all.
    k : int, default 1
        Statistic = minus the mean distance to the ``k`` nearest shadow
        synthetic records (k = 1 is DCR).
    encode : callable ``rows -> (n, d) float array``, optional
        Distance encoding of rows (e.g. ``schema.encode_distance`` after
        decoding); default the rows themselves.
    fixed_variance : bool, default True
        Use one pooled standard deviation for all targets and both sides
        (recommended for few shadow models); otherwise per-target ones.
    n_workers : int, optional
        Threads for the default executor; 1 runs serially. Default
        ``os.cpu_count()``.
    executor : concurrent.futures.Executor, optional
        Used instead of an internal thread pool (e.g. a process pool).
    rng : None, int, SeedSequence or Generator
        Randomness of target choice, subsets and shadow fits. Results do not
        depend on ``n_workers``.
    backend : str, default "auto"
        Passed to :func:`redp.neighbors.knn`.

    Returns
    -------
    ShadowResult
        ``index`` and ``scores`` of the attacked targets (and the raw
        statistics).
    """
    func = "shadow"
    if not callable(fit_sample):
        raise InputTypeError(f"The 'fit_sample' parameter of {func} must be callable. Got {fit_sample!r} instead.")
    encode = _default_encode if encode is None else encode
    if not callable(encode):
        raise InputTypeError(f"The 'encode' parameter of {func} must be callable or None. Got {encode!r} instead.")
    T = np.asarray(targets)
    R = np.asarray(reference)
    if T.ndim < 1 or len(T) == 0 or R.ndim != T.ndim or R.shape[1:] != T.shape[1:] or len(R) < 2:
        raise ValueError(
            f"The 'targets' and 'reference' parameters of {func} must be non-empty arrays of rows of the same "
            f"shape (reference with >= 2 rows). Got shapes {T.shape} and {R.shape} instead."
        )
    n_shadow = check_int(n_shadow, "n_shadow", func, low=2)
    n_train = len(R) // 2 if n_train is None else check_int(n_train, "n_train", func, low=1, high=len(R))
    n_train = max(n_train, 1)
    m = len(T) if max_targets is None else min(check_int(max_targets, "max_targets", func, low=1), len(T))
    k = check_int(k, "k", func, low=1)
    if n_workers is not None:
        n_workers = check_int(n_workers, "n_workers", func, low=1)
    gen = as_generator(rng, func)

    index = np.sort(gen.choice(len(T), size=m, replace=False)) if m < len(T) else np.arange(len(T))
    enc_T = _as_encoded(encode(T[index]), "encode(targets)", func)
    observed = _stat(enc_T, synthetic, encode, k, backend)

    subsets = [gen.choice(len(R), size=n_train, replace=False) for _ in range(n_shadow)]
    root = np.random.SeedSequence(gen.integers(0, 2**63))
    out_seeds = root.spawn(n_shadow)
    in_roots = root.spawn(m)
    positions = gen.integers(0, n_train, size=(m, n_shadow))

    out_args = [(fit_sample, encode, R[subsets[j]], out_seeds[j], enc_T, k, backend) for j in range(n_shadow)]
    in_args = [
        (fit_sample, encode, R, subsets, positions[i], T[index[i]], enc_T[i], in_roots[i].spawn(n_shadow), k, backend)
        for i in range(m)
    ]
    workers = (os.cpu_count() or 1) if n_workers is None else n_workers
    if executor is None and workers == 1:
        out_res = [_out_task(a) for a in out_args]
        in_res = [_in_task(a) for a in in_args]
    elif executor is None:
        with ThreadPoolExecutor(max_workers=min(workers, m + n_shadow)) as ex:
            out_res = list(ex.map(_out_task, out_args))
            in_res = list(ex.map(_in_task, in_args))
    else:
        out_res = list(executor.map(_out_task, out_args))
        in_res = list(executor.map(_in_task, in_args))

    out_stats = np.column_stack(out_res)  # (m, n_shadow)
    in_stats = np.vstack(in_res)  # (m, n_shadow)
    mu_in, mu_out = in_stats.mean(axis=1), out_stats.mean(axis=1)
    pooled = np.sqrt(0.5 * (in_stats.var(axis=1, ddof=1).mean() + out_stats.var(axis=1, ddof=1).mean()))
    tiny = 1e-6 * (np.abs(mu_in - mu_out).mean() + pooled) + 1e-12
    if fixed_variance:
        sd_in = sd_out = np.full(m, max(pooled, tiny))
    else:
        sd_in = np.maximum(in_stats.std(axis=1, ddof=1), max(0.05 * pooled, tiny))
        sd_out = np.maximum(out_stats.std(axis=1, ddof=1), max(0.05 * pooled, tiny))
    scores = _log_normal(observed, mu_in, sd_in) - _log_normal(observed, mu_out, sd_out)
    return ShadowResult(index, scores, observed, in_stats, out_stats)
