"""Tree-model pieces of the marginal synthesizer: selection loop and consistency.

Everything here is post-processing of noisy measurements, except
:func:`kruskal_select`, which only *calls* a private selector it is handed
(the exponential mechanism lives in :mod:`redp.mechanisms`).

Examples
--------
>>> import numpy as np
>>> from redp.synth.tree import project_simplex
>>> project_simplex(np.array([3.0, -1.0, 0.5]), 2.0)
array([2., 0., 0.])
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "project_simplex",
    "kruskal_select",
    "estimate_total",
    "fit_one_way",
    "fit_pair",
    "tree_layout",
]


def project_simplex(v: np.ndarray, total: float) -> np.ndarray:
    """Euclidean projection of ``v`` onto ``{x >= 0, sum(x) = total}``.

    The least-squares non-negative estimate with a known total: subtracts one
    threshold from every cell and clips at 0 (Duchi et al. 2008).

    >>> project_simplex(np.array([1.0, 1.0]), 4.0)
    array([2., 2.])
    """
    v = np.asarray(v, dtype=np.float64)
    if total <= 0:
        return np.zeros_like(v)
    u = np.sort(v.ravel())[::-1]
    css = np.cumsum(u) - total
    k = np.arange(1, u.size + 1)
    cond = u - css / k > 0
    r = int(np.nonzero(cond)[0][-1])
    theta = css[r] / (r + 1)
    return np.maximum(v - theta, 0.0)


class _DisjointSet:
    def __init__(self, n):
        self.parent = list(range(n))

    def find(self, a):
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a, b):
        self.parent[self.find(a)] = self.find(b)


def kruskal_select(n_nodes: int, pairs: list, scores: np.ndarray, select) -> list:
    """Grow a spanning tree: ``n_nodes - 1`` rounds, each choosing one edge that joins two components.

    ``select(candidate_scores) -> index`` is called once per round with the
    scores of the still-eligible pairs (the caller's private selector). Rounds
    with a single candidate still call ``select`` (the caller decides whether
    that costs budget).

    >>> kruskal_select(3, [(0, 1), (0, 2), (1, 2)], np.array([5.0, 1.0, 4.0]), lambda s: int(np.argmax(s)))
    [(0, 1), (1, 2)]
    """
    ds = _DisjointSet(n_nodes)
    scores = np.asarray(scores, dtype=np.float64)
    chosen = []
    for _ in range(n_nodes - 1):
        cand = [i for i, (a, b) in enumerate(pairs) if ds.find(a) != ds.find(b)]
        if not cand:
            break
        i = cand[int(select(scores[cand]))]
        a, b = pairs[i]
        ds.union(a, b)
        chosen.append((a, b))
    return chosen


def estimate_total(totals, variances) -> float:
    """Inverse-variance weighted mean of several noisy totals, at least 1.

    >>> estimate_total([100.0, 110.0], [1.0, 1.0])
    105.0
    """
    t = np.asarray(totals, dtype=np.float64)
    v = np.asarray(variances, dtype=np.float64)
    return float(max(1.0, np.sum(t / v) / np.sum(1.0 / v)))


def fit_one_way(estimates, variances, total: float) -> np.ndarray:
    """Combine several noisy estimates of one 1-way marginal cell-wise, then project.

    ``estimates`` and ``variances`` are lists of arrays (per-cell variance);
    the result is the inverse-variance weighted average projected onto the
    simplex of mass ``total``.

    >>> fit_one_way([np.array([10.0, -2.0]), np.array([8.0, 0.0])], [np.ones(2), np.ones(2)], 9.0)
    array([9., 0.])
    """
    num = np.zeros_like(np.asarray(estimates[0], dtype=np.float64))
    den = np.zeros_like(num)
    for e, v in zip(estimates, variances):
        num += np.asarray(e, dtype=np.float64) / v
        den += 1.0 / np.asarray(v, dtype=np.float64)
    return project_simplex(num / den, total)


def fit_pair(noisy: np.ndarray, row_margin: np.ndarray, col_margin: np.ndarray, iters: int = 30) -> np.ndarray:
    """Non-negative 2-way table with the given margins, close to ``noisy``.

    Projects the noisy table onto the simplex of mass ``row_margin.sum()``
    (least-squares non-negativity), mixes in a vanishing multiple of the
    independence table so every cell that the margins allow is reachable, then
    runs iterative proportional fitting to the margins (rows last, so row
    sums match exactly: the tree's conditionals are taken row-wise).

    >>> t = fit_pair(np.array([[5.0, -1.0], [0.5, 4.0]]), np.array([4.0, 6.0]), np.array([5.0, 5.0]))
    >>> np.round(t.sum(axis=1), 6).tolist(), np.round(t.sum(axis=0), 3).tolist()
    ([4.0, 6.0], [5.0, 5.0])
    """
    total = float(row_margin.sum())
    if total <= 0:
        return np.zeros_like(noisy, dtype=np.float64)
    t = project_simplex(noisy, total)
    indep = np.outer(row_margin, col_margin) / total
    t = t + 1e-6 * indep
    for _ in range(iters):
        cs = t.sum(axis=0)
        t *= np.divide(col_margin, cs, out=np.zeros_like(cs), where=cs > 0)[None, :]
        rs = t.sum(axis=1)
        t *= np.divide(row_margin, rs, out=np.zeros_like(rs), where=rs > 0)[:, None]
    return t


def tree_layout(n_nodes: int, edges: list, root_pref=None):
    """BFS order and parents of the forest given by ``edges``.

    Each component is rooted at its highest-degree node (ties: lowest index),
    or at ``root_pref`` where that lies in the component.

    >>> order, parent = tree_layout(4, [(0, 1), (1, 2), (1, 3)])
    >>> order.tolist(), parent.tolist()
    ([1, 0, 2, 3], [1, -1, 1, 1])
    """
    adj = [[] for _ in range(n_nodes)]
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    deg = np.array([len(x) for x in adj])
    parent = np.full(n_nodes, -1, dtype=np.int64)
    seen = np.zeros(n_nodes, dtype=bool)
    order = []
    candidates = sorted(range(n_nodes), key=lambda j: (j != root_pref, -deg[j], j))
    for r in candidates:
        if seen[r]:
            continue
        seen[r] = True
        queue = [r]
        while queue:
            u = queue.pop(0)
            order.append(u)
            for v in sorted(adj[u]):
                if not seen[v]:
                    seen[v] = True
                    parent[v] = u
                    queue.append(v)
    return np.array(order, dtype=np.int64), parent
