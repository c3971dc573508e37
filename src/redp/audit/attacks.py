"""Membership-inference attacks on a released synthetic table (not DP).

Each attack returns one membership score per target record, higher meaning
"more likely a member". Attacks work on distance-encoded arrays
(``schema.encode_distance``, float32, one row per record) and use
:func:`redp.neighbors.knn` for every neighbour search; :func:`run_attacks`
takes tables and a schema. The shadow-model attack lives in
:mod:`redp.audit.shadow`.

Everything here reads private records (the targets): the scores are **not**
differentially private and are for evaluation only.

Examples
--------
>>> import numpy as np
>>> S = np.array([[0.0, 0.0], [1.0, 1.0]], dtype=np.float32)
>>> T = np.array([[0.0, 0.1], [5.0, 5.0]], dtype=np.float32)
>>> dcr(T, S).round(3)
array([-0.1  , -5.657])
"""

from __future__ import annotations

import math

import numpy as np

from .._validation import check_int, check_real
from ..errors import InputTypeError

__all__ = ["dcr", "density_ratio", "run_attacks", "ATTACKS"]

#: Distances below this are treated as this (duplicates would give log 0).
DISTANCE_FLOOR = 1e-6


def _as_encoded(x, name: str, func: str, d: int | None = None) -> np.ndarray:
    try:
        a = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise InputTypeError(f"The '{name}' parameter of {func} must be array-like. Got {type(x).__name__}.") from exc
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise InputTypeError(
            f"The '{name}' parameter of {func} must be a numeric (n, d) array (encode tables with "
            f"schema.encode_distance). Got dtype {a.dtype} instead."
        )
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"The '{name}' parameter of {func} must be a non-empty 2-D array. Got shape {a.shape} instead.")
    if d is not None and a.shape[1] != d:
        raise ValueError(
            f"The '{name}' parameter of {func} must have {d} columns like 'targets'. Got {a.shape[1]} instead."
        )
    a = np.ascontiguousarray(a, dtype=np.float32)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"The '{name}' parameter of {func} must be finite.")
    return a


def _knn_dist(queries: np.ndarray, base: np.ndarray, k: int, backend: str) -> np.ndarray:
    from ..neighbors import knn

    dist, _ = knn(queries, base, k=k, backend=backend)
    return np.asarray(dist, dtype=np.float64)


def dcr(targets, synthetic, *, backend: str = "auto") -> np.ndarray:
    """Negative distance from each target to its closest synthetic record.

    .. math:: s(x) = -\\min_{y \\in S} \\lVert x - y \\rVert_2

    Not DP: reads the targets.

    Parameters
    ----------
    targets : array_like (n_targets, d)
        Encoded target records (e.g. ``schema.encode_distance``).
    synthetic : array_like (n_synthetic, d)
        Encoded synthetic records.
    backend : str, default "auto"
        Passed to :func:`redp.neighbors.knn`.

    Returns
    -------
    ndarray of float64, shape (n_targets,)

    Examples
    --------
    >>> import numpy as np
    >>> dcr(np.zeros((1, 3)), np.ones((2, 3))).round(4)
    array([-1.7321])
    """
    T = _as_encoded(targets, "targets", "dcr")
    S = _as_encoded(synthetic, "synthetic", "dcr", T.shape[1])
    return -_knn_dist(T, S, 1, backend)[:, 0]


def density_ratio(
    targets,
    synthetic,
    reference,
    k: int = 5,
    *,
    dim: float | None = None,
    floor: float = DISTANCE_FLOOR,
    backend: str = "auto",
) -> np.ndarray:
    """DOMIAS-style log density ratio of the synthetic table over a reference sample.

    Both densities are k-nearest-neighbour estimates
    :math:`\\hat p(x) = k / (n\\, V_d\\, r_k(x)^d)`, with :math:`r_k(x)` the
    distance from ``x`` to its k-th nearest point of the sample, so

    .. math::

        s(x) = \\log\\frac{\\hat p_S(x)}{\\hat p_{ref}(x)}
             = d\\,\\big(\\log r_{k,ref}(x) - \\log r_{k,S}(x)\\big)
               + \\log n_{ref} - \\log n_S .

    Members "pull" the generator towards themselves, so the synthetic density
    at a member is high relative to the population density there (van Breugel
    et al. 2023, "Membership inference attacks against synthetic data through
    overfitting detection"). ``k`` sets the locality: ``k = 1`` detects
    near-copies of members (a synthetic point on top of the target), larger
    ``k`` detects generators that put extra mass *around* members but is
    blind to a single copy among iid draws. Distances below ``floor`` are raised to it
    (duplicates). The ranking of the scores does not depend on ``dim``; it
    only sets the scale of the log ratio.

    Not DP: reads the targets.

    Parameters
    ----------
    targets : array_like (n_targets, d)
        Encoded target records.
    synthetic : array_like (n_S, d)
        Encoded released synthetic records.
    reference : array_like (n_ref, d)
        Encoded auxiliary sample from the population, disjoint from the
        targets.
    k : int, default 5
        Neighbour rank, ``1 <= k <= min(n_S, n_ref)``.
    dim : float, optional
        Dimension ``d`` of the estimator; default the encoded width. A smaller
        intrinsic dimension can be given for one-hot-heavy encodings.
    floor : float, default 1e-6
        Smallest distance used, > 0.
    backend : str, default "auto"
        Passed to :func:`redp.neighbors.knn`.

    Returns
    -------
    ndarray of float64, shape (n_targets,)

    Examples
    --------
    >>> import numpy as np
    >>> g = np.random.default_rng(0)
    >>> ref = g.normal(size=(500, 2)).astype(np.float32)
    >>> syn = np.vstack([ref[:200], [[3.0, 3.0]] * 20]).astype(np.float32)
    >>> s = density_ratio(np.array([[0.0, 0.0], [3.0, 3.0]]), syn, ref, k=5)
    >>> bool(s[1] > s[0])
    True
    """
    func = "density_ratio"
    T = _as_encoded(targets, "targets", func)
    S = _as_encoded(synthetic, "synthetic", func, T.shape[1])
    R = _as_encoded(reference, "reference", func, T.shape[1])
    k = check_int(k, "k", func, low=1, high=min(len(S), len(R)))
    d = float(T.shape[1]) if dim is None else check_real(dim, "dim", func, low=0.0, low_open=True)
    floor = check_real(floor, "floor", func, low=0.0, low_open=True)
    r_s = np.maximum(_knn_dist(T, S, k, backend)[:, k - 1], floor)
    r_r = np.maximum(_knn_dist(T, R, k, backend)[:, k - 1], floor)
    return d * (np.log(r_r) - np.log(r_s)) + (math.log(len(R)) - math.log(len(S)))


ATTACKS = {"dcr": dcr, "density_ratio": density_ratio}


def run_attacks(
    schema,
    targets,
    synthetic,
    reference=None,
    *,
    attacks=("dcr", "density_ratio"),
    k: int = 5,
    backend: str = "auto",
) -> dict:
    """Run the distance attacks on tables encoded with ``schema``.

    Not DP: reads the targets.

    Parameters
    ----------
    schema : redp.schema.Schema
        Public schema; tables are encoded with ``schema.encode_distance``.
    targets, synthetic : table
        Anything ``schema.encode_distance`` accepts (dict of columns,
        pandas DataFrame, ...).
    reference : table, optional
        Auxiliary population sample, needed by ``"density_ratio"``.
    attacks : sequence of {"dcr", "density_ratio"}
    k : int, default 5
        Neighbour rank of ``density_ratio``.
    backend : str, default "auto"

    Returns
    -------
    dict of str to ndarray (n_targets,)

    Examples
    --------
    >>> import numpy as np
    >>> from redp.schema import Schema, Continuous, Categorical
    >>> sc = Schema({"x": Continuous(0, 10), "c": Categorical(["a", "b"])})
    >>> T = {"x": np.array([2.0, 9.0]), "c": np.array(["a", "b"])}
    >>> S = {"x": np.array([1.0, 5.0]), "c": np.array(["a", "a"])}
    >>> run_attacks(sc, T, S, attacks=["dcr"])["dcr"].round(3)
    array([-0.1  , -1.077])
    """
    func = "run_attacks"
    if isinstance(attacks, str):
        attacks = (attacks,)
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown or not attacks:
        raise ValueError(
            f"The 'attacks' parameter of {func} must be a non-empty subset of {sorted(ATTACKS)}. Got {list(attacks)!r} instead."
        )
    if "density_ratio" in attacks and reference is None:
        raise ValueError(f"The 'density_ratio' attack of {func} needs a 'reference' table. Got None.")
    T = schema.encode_distance(targets)
    S = schema.encode_distance(synthetic)
    R = None if reference is None else schema.encode_distance(reference)
    out = {}
    for name in attacks:
        if name == "dcr":
            out[name] = dcr(T, S, backend=backend)
        else:
            out[name] = density_ratio(T, S, R, k=k, backend=backend)
    return out
