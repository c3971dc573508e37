"""Built-in and file-backed datasets for demos, tests and experiments.

The simulated table is generated here; real datasets (Adult, German Credit) are
read from a path the caller gives (they are never shipped with redp), with
schemas of public bounds shipped as JSON in ``redp/data``.

Examples
--------
>>> from redp.datasets import simulate
>>> table, schema, is_outlier = simulate(1000, rng=0)
>>> len(table["x0"]), int(is_outlier.sum())
(1000, 20)
"""

from __future__ import annotations

import numpy as np

from ._validation import as_generator, check_int, check_real

__all__ = ["simulate", "simulated_schema"]


def simulated_schema(n_continuous: int = 6, n_categorical: int = 2, n_levels: int = 5, *, bound: float = 8.0, bins: int = 16):
    """Public schema of :func:`simulate`: continuous ``[-bound, bound]``, levels ``a, b, ...``.

    Examples
    --------
    >>> simulated_schema(2, 1).names
    ('x0', 'x1', 'c0')
    """
    from .schema import Categorical, Continuous, Schema

    cols = {f"x{j}": Continuous(-bound, bound, bins=bins) for j in range(n_continuous)}
    levels = [chr(ord("a") + i) for i in range(n_levels)]
    cols.update({f"c{j}": Categorical(levels) for j in range(n_categorical)})
    return Schema(cols)


def simulate(
    n: int,
    *,
    n_continuous: int = 6,
    n_categorical: int = 2,
    n_levels: int = 5,
    outlier_fraction: float = 0.02,
    magnitude: float = 5.0,
    bins: int = 16,
    rng=None,
):
    """Gaussian bulk plus injected outliers, with ground-truth labels.

    Bulk records: continuous columns i.i.d. N(0, 1); categorical columns drawn
    with skewed level probabilities (the last level rare). Outliers (a fraction
    ``outlier_fraction``, rounded): shifted by ``magnitude`` along a random unit
    direction, with uniformly drawn (so often rare) levels.

    Returns
    -------
    table : dict of column -> ndarray
    schema : redp.Schema (public bounds ``[-8, 8]``)
    is_outlier : ndarray of bool
    """
    n = check_int(n, "n", "simulate", low=1)
    outlier_fraction = check_real(outlier_fraction, "outlier_fraction", "simulate", low=0.0, high=1.0)
    magnitude = check_real(magnitude, "magnitude", "simulate", low=0.0)
    g = as_generator(rng, "simulate")
    n_out = int(round(outlier_fraction * n))
    is_outlier = np.zeros(n, dtype=bool)
    is_outlier[g.choice(n, n_out, replace=False)] = True
    X = g.standard_normal((n, n_continuous))
    direction = g.standard_normal((n_out, n_continuous))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    X[is_outlier] += magnitude * direction
    schema = simulated_schema(n_continuous, n_categorical, n_levels, bins=bins)
    table = {f"x{j}": np.clip(X[:, j], -8.0, 8.0) for j in range(n_continuous)}
    levels = np.array([chr(ord("a") + i) for i in range(n_levels)])
    p = np.geomspace(1.0, 0.05, n_levels)
    p /= p.sum()
    for j in range(n_categorical):
        codes = g.choice(n_levels, n, p=p)
        codes[is_outlier] = g.integers(0, n_levels, n_out)
        table[f"c{j}"] = levels[codes]
    return table, schema, is_outlier
