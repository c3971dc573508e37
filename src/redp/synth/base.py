"""The protocol every redp synthesizer follows, and its small measurement record.

A synthesizer spends its whole budget in :meth:`Synthesizer.fit` and nothing in
:meth:`Synthesizer.sample` (post-processing). Every record ``i`` enters the
fitted statistics scaled by its weight ``w_i`` in ``[0, 1]``, while the noise is
calibrated to weight 1, so the worst-case guarantee is ``rho`` (zCDP) and the
per-record one, conditional on the weights, is ``privacy_map(weights)``.

Examples
--------
>>> from redp.synth.base import Measurement
>>> Measurement("1-way", ("age",), sigma=2.0, rho=0.125, n_cells=16)
Measurement(kind='1-way', columns=('age',), sigma=2.0, rho=0.125, n_cells=16, sensitivity=1.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["Synthesizer", "Measurement"]


@dataclass(frozen=True)
class Measurement:
    """What one private release measured (no data inside).

    Attributes
    ----------
    kind : str
        ``"1-way"``, ``"2-way"`` or ``"select"`` (an exponential-mechanism choice).
    columns : tuple of str
        The marginal's columns (for ``"select"``: the chosen pair).
    sigma : float
        Gaussian noise standard deviation in count units (for ``"select"``:
        the exponential mechanism's epsilon).
    rho : float
        zCDP charged to this release at weight 1 (the measurements of one
        batch share a sensitivity, so each one's rho is its share of the batch).
    n_cells : int
        Cells of the measured marginal, after compressing rare levels (candidate pairs for ``"select"``).
    sensitivity : float
        L2 sensitivity of the whole batch this measurement belongs to, at weight 1
        (L1 sensitivity of the score for ``"select"``).
    """

    kind: str
    columns: tuple
    sigma: float
    rho: float
    n_cells: int
    sensitivity: float = 1.0


@runtime_checkable
class Synthesizer(Protocol):
    """A weighted DP synthesizer (structural type; nothing to inherit).

    ``fit(table, schema, weights=None, *, rho, rng) -> self`` spends exactly
    ``rho`` (zCDP at weight 1); ``sample(n, rng=None) -> dict[str, ndarray]`` is
    free; ``privacy_map(weights)`` returns the per-record zCDP ``rho_i`` of the
    fit (``w_i**2 * rho`` for full-batch Gaussian synthesizers); ``rho`` and
    ``measurements`` describe what was spent.
    """

    rho: float
    measurements: list

    def fit(self, table, schema, weights=None, *, rho, rng): ...

    def sample(self, n, rng=None) -> dict: ...

    def privacy_map(self, weights) -> np.ndarray: ...
