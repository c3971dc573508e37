"""Utility of a synthetic table measured against the real one (not DP).

Every function reads the real (private) data: results are **not**
differentially private and are for evaluation only.

- :func:`tvd_1way`, :func:`tvd_2way`: total variation distance of 1-way and
  2-way marginals of ``schema.encode_marginal`` codes (0 = identical, 1 =
  disjoint supports).
- :func:`correlation_difference`: mean absolute difference of the Pearson
  correlation matrices of ``schema.encode_distance`` encodings.
- :func:`tstr`: train on synthetic, test on real, with L2-regularised
  logistic regression (scikit-learn when installed, a NumPy Newton solver
  otherwise).
- :func:`utility_report`: all of the above from tables and a schema.

Examples
--------
>>> import numpy as np
>>> real = np.array([[0, 1], [1, 1], [1, 0], [0, 0]])
>>> syn = np.array([[0, 1], [0, 1], [1, 0], [1, 0]])
>>> tvd_1way(real, syn, (2, 2))
0.0
>>> tvd_2way(real, syn, (2, 2))
0.5
"""

from __future__ import annotations

import numpy as np

from .._validation import check_int, check_real
from ..errors import InputTypeError

__all__ = ["tvd_1way", "tvd_2way", "correlation_difference", "tstr", "utility_report"]


def _check_codes(codes, name: str, func: str, card: np.ndarray | None) -> np.ndarray:
    a = np.asarray(codes)
    if a.ndim != 2 or a.dtype.kind not in "iub":
        raise InputTypeError(
            f"The '{name}' parameter of {func} must be a 2-D integer array of marginal codes "
            f"(schema.encode_marginal). Got dtype {a.dtype} and shape {a.shape} instead."
        )
    if a.shape[0] == 0:
        raise ValueError(f"The '{name}' parameter of {func} must have at least one row.")
    if card is not None:
        if a.shape[1] != len(card):
            raise ValueError(
                f"The '{name}' parameter of {func} must have {len(card)} columns (one per cardinality). "
                f"Got {a.shape[1]} instead."
            )
        if a.min() < 0 or np.any(a.max(axis=0) >= card):
            raise ValueError(
                f"The '{name}' parameter of {func} must satisfy 0 <= codes[:, j] < cardinalities[j] = "
                f"{tuple(int(c) for c in card)}."
            )
    return a.astype(np.int64, copy=False)


def _check_card(cardinalities, func: str) -> np.ndarray:
    card = np.asarray(cardinalities)
    if card.ndim != 1 or card.size == 0 or card.dtype.kind not in "iu" or np.any(card < 1):
        raise ValueError(
            f"The 'cardinalities' parameter of {func} must be a non-empty sequence of positive ints. "
            f"Got {cardinalities!r} instead."
        )
    return card.astype(np.int64)


def _tvd(a: np.ndarray, b: np.ndarray, size: int) -> float:
    p = np.bincount(a, minlength=size) / len(a)
    q = np.bincount(b, minlength=size) / len(b)
    return 0.5 * float(np.abs(p - q).sum())


def tvd_1way(real_codes, syn_codes, cardinalities, *, average: bool = True):
    """Total variation distance of every 1-way marginal.

    .. math:: \\mathrm{TVD}_j = \\tfrac12 \\sum_v |\\hat p_j(v) - \\hat q_j(v)|

    Not DP: reads the real data.

    Parameters
    ----------
    real_codes, syn_codes : array_like of int (n, n_cols), (m, n_cols)
        Marginal codes (``schema.encode_marginal``).
    cardinalities : sequence of int (n_cols,)
    average : bool, default True
        Return the mean over columns, else one value per column.

    Returns
    -------
    float or ndarray (n_cols,)

    Examples
    --------
    >>> tvd_1way([[0], [0], [1], [2]], [[0], [1], [1], [1]], [3], average=False)
    array([0.5])
    """
    func = "tvd_1way"
    card = _check_card(cardinalities, func)
    r = _check_codes(real_codes, "real_codes", func, card)
    s = _check_codes(syn_codes, "syn_codes", func, card)
    out = np.array([_tvd(r[:, j], s[:, j], int(card[j])) for j in range(len(card))])
    return float(out.mean()) if average else out


def tvd_2way(real_codes, syn_codes, cardinalities, *, pairs=None, average: bool = True):
    """Total variation distance of 2-way marginals, averaged over column pairs.

    Not DP: reads the real data.

    Parameters
    ----------
    real_codes, syn_codes : array_like of int (n, n_cols), (m, n_cols)
    cardinalities : sequence of int (n_cols,)
    pairs : sequence of (int, int), optional
        Column pairs; default all ``i < j``.
    average : bool, default True
        Return the mean over pairs, else one value per pair.

    Returns
    -------
    float or ndarray (n_pairs,)

    Examples
    --------
    >>> real = [[0, 0], [1, 1]]
    >>> tvd_2way(real, [[0, 1], [1, 0]], (2, 2))
    1.0
    """
    func = "tvd_2way"
    card = _check_card(cardinalities, func)
    r = _check_codes(real_codes, "real_codes", func, card)
    s = _check_codes(syn_codes, "syn_codes", func, card)
    n_cols = len(card)
    if pairs is None:
        pairs = [(i, j) for i in range(n_cols) for j in range(i + 1, n_cols)]
    else:
        pairs = [tuple(p) for p in pairs]
        if any(len(p) != 2 or not all(0 <= int(c) < n_cols for c in p) or p[0] == p[1] for p in pairs):
            raise ValueError(
                f"The 'pairs' parameter of {func} must hold pairs of distinct column indices in [0, {n_cols}). "
                f"Got {pairs!r} instead."
            )
    if not pairs:
        raise ValueError(f"{func} needs at least two columns. Got {n_cols}.")
    out = np.array([
        _tvd(r[:, i] * card[j] + r[:, j], s[:, i] * card[j] + s[:, j], int(card[i] * card[j])) for i, j in pairs
    ])
    return float(out.mean()) if average else out


def _check_float2d(x, name: str, func: str, d: int | None = None) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2 or a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise InputTypeError(
            f"The '{name}' parameter of {func} must be a numeric 2-D array. Got dtype {a.dtype} and shape {a.shape} instead."
        )
    if d is not None and a.shape[1] != d:
        raise ValueError(f"The '{name}' parameter of {func} must have {d} columns. Got {a.shape[1]} instead.")
    a = a.astype(np.float64)
    if a.shape[0] < 2 or not np.all(np.isfinite(a)):
        raise ValueError(f"The '{name}' parameter of {func} must be finite with at least 2 rows. Got shape {a.shape}.")
    return a


def _corr(x: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=0)
    c = xc.T @ xc
    var = np.diag(c).copy()
    ok = var > (1e-12 * (1.0 + np.abs(x).max(axis=0))) ** 2 * len(x)
    inv = np.zeros_like(var)
    inv[ok] = 1.0 / np.sqrt(var[ok])
    c = c * inv[:, None] * inv[None, :]
    np.fill_diagonal(c, 1.0)
    return np.clip(c, -1.0, 1.0)


def correlation_difference(real_enc, syn_enc) -> float:
    """Mean absolute difference of the Pearson correlation matrices.

    .. math:: \\frac{2}{d(d-1)} \\sum_{i<j} |\\rho^{real}_{ij} - \\rho^{syn}_{ij}|

    A constant column has correlation 0 with every other column (instead of
    NaN). With a single column the result is 0.

    Not DP: reads the real data.

    Parameters
    ----------
    real_enc, syn_enc : array_like (n, d), (m, d)
        Numeric encodings (``schema.encode_distance``).

    Returns
    -------
    float
        In [0, 2].

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(10.0)
    >>> correlation_difference(np.c_[x, x], np.c_[x, -x])
    2.0
    """
    func = "correlation_difference"
    r = _check_float2d(real_enc, "real_enc", func)
    s = _check_float2d(syn_enc, "syn_enc", func, r.shape[1])
    d = r.shape[1]
    if d < 2:
        return 0.0
    iu = np.triu_indices(d, 1)
    return float(np.abs(_corr(r) - _corr(s))[iu].mean())


# --- logistic regression (NumPy fallback) -----------------------------------


def _fit_binary_logreg(X: np.ndarray, y: np.ndarray, C: float, max_iter: int) -> np.ndarray:
    """Newton (IRLS) for sum log-loss + ||w||^2 / (2C), intercept unpenalised. Returns (d+1,) beta."""
    n, d = X.shape
    Xb = np.hstack([X, np.ones((n, 1))])
    reg = np.r_[np.full(d, 1.0 / C), 1e-10]
    beta = np.zeros(d + 1)

    def loss(b):
        z = Xb @ b
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * np.sum(reg * b * b))

    cur = loss(beta)
    for _ in range(max_iter):
        z = Xb @ beta
        p = 0.5 * (1.0 + np.tanh(0.5 * z))  # stable sigmoid
        g = Xb.T @ (p - y) + reg * beta
        H = (Xb * (p * (1.0 - p))[:, None]).T @ Xb + np.diag(reg)
        step = np.linalg.solve(H, g)
        t = 1.0
        while True:
            new = beta - t * step
            nl = loss(new)
            if nl <= cur + 1e-12 * abs(cur) or t < 1e-8:
                break
            t *= 0.5
        beta, prev, cur = new, cur, nl
        if np.max(np.abs(t * step)) < 1e-10 or prev - cur < 1e-12 * max(1.0, abs(cur)):
            break
    return beta


def _numpy_scores(Xs, ys_idx, n_classes, Xr, C, max_iter):
    if n_classes == 2:
        beta = _fit_binary_logreg(Xs, (ys_idx == 1).astype(np.float64), C, max_iter)
        z = Xr @ beta[:-1] + beta[-1]
        return np.c_[-z, z]
    cols = []
    for c in range(n_classes):  # one-vs-rest
        beta = _fit_binary_logreg(Xs, (ys_idx == c).astype(np.float64), C, max_iter)
        cols.append(Xr @ beta[:-1] + beta[-1])
    return np.column_stack(cols)


def _sklearn_scores(Xs, ys_idx, n_classes, Xr, C, max_iter):
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C, max_iter=max(max_iter, 1000))
    model.fit(Xs, ys_idx)
    z = model.decision_function(Xr)
    return np.c_[-z, z] if n_classes == 2 else z


def _has_sklearn() -> bool:
    try:
        import sklearn.linear_model  # noqa: F401
    except ImportError:
        return False
    return True


def tstr(
    syn_X,
    syn_y,
    real_X,
    real_y,
    *,
    metric: str = "auto",
    backend: str = "auto",
    C: float = 1.0,
    max_iter: int = 100,
) -> float:
    """Train on synthetic, test on real: logistic regression fitted on ``(syn_X, syn_y)``.

    Features are standardised with the synthetic data's mean and standard
    deviation. The model minimises the summed log-loss plus
    :math:`\\lVert w \\rVert^2 / (2C)` (intercept unpenalised), the objective
    of ``sklearn.linear_model.LogisticRegression(C=C)``; the NumPy fallback
    solves it by Newton's method (binary) or one-vs-rest Newton (multiclass,
    where scikit-learn is multinomial; accuracies are close but not equal).

    Metric: ``"auc"`` (ROC AUC of the decision function for the larger label
    on the real data; needs two classes) or ``"accuracy"``; ``"auto"`` picks
    AUC when the labels have two distinct values and accuracy otherwise. When
    the synthetic labels hold a single class the model is constant: AUC 0.5,
    accuracy = frequency of that class in ``real_y``.

    Not DP: reads the real data.

    Parameters
    ----------
    syn_X : array_like (m, d)
        Synthetic features (e.g. ``schema.encode_distance`` without the target).
    syn_y : array_like (m,)
        Synthetic labels.
    real_X : array_like (n, d)
    real_y : array_like (n,)
    metric : {"auto", "auc", "accuracy"}
    backend : {"auto", "sklearn", "numpy"}
        "auto" uses scikit-learn when importable.
    C : float, default 1.0
        Inverse L2 regularisation strength, > 0.
    max_iter : int, default 100
        Newton iterations of the NumPy solver (scikit-learn gets at least 1000).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> g = np.random.default_rng(0)
    >>> X = g.normal(size=(400, 3)); y = (X[:, 0] + 0.3 * g.normal(size=400) > 0).astype(int)
    >>> round(tstr(X[:200], y[:200], X[200:], y[200:], backend="numpy"), 2)
    0.98
    """
    func = "tstr"
    Xs = _check_float2d(syn_X, "syn_X", func)
    Xr = _check_float2d(real_X, "real_X", func, Xs.shape[1])
    ys, yr = np.asarray(syn_y), np.asarray(real_y)
    if ys.shape != (len(Xs),) or yr.shape != (len(Xr),):
        raise ValueError(
            f"The 'syn_y' and 'real_y' parameters of {func} must be 1-D with one label per row of syn_X "
            f"({len(Xs)}) and real_X ({len(Xr)}). Got shapes {ys.shape} and {yr.shape} instead."
        )
    if metric not in ("auto", "auc", "accuracy"):
        raise ValueError(f"The 'metric' parameter of {func} must be 'auto', 'auc' or 'accuracy'. Got {metric!r} instead.")
    if backend not in ("auto", "sklearn", "numpy"):
        raise ValueError(f"The 'backend' parameter of {func} must be 'auto', 'sklearn' or 'numpy'. Got {backend!r} instead.")
    C = check_real(C, "C", func, low=0.0, low_open=True)
    max_iter = check_int(max_iter, "max_iter", func, low=1)
    labels = np.unique(np.concatenate([ys, yr]))
    if metric == "auto":
        metric = "auc" if len(labels) == 2 else "accuracy"
    if metric == "auc":
        if len(labels) != 2 or len(np.unique(yr)) != 2:
            raise ValueError(
                f"{func} with metric='auc' needs exactly two classes, both present in real_y. Got labels "
                f"{labels[:5]!r} overall and {np.unique(yr)[:5]!r} in real_y."
            )
    syn_classes = np.unique(ys)
    if len(syn_classes) == 1:
        if metric == "auc":
            return 0.5
        return float(np.mean(yr == syn_classes[0]))
    mu = Xs.mean(axis=0)
    sd = Xs.std(axis=0)
    sd[sd < 1e-12] = 1.0
    Xs_std, Xr_std = (Xs - mu) / sd, (Xr - mu) / sd
    ys_idx = np.searchsorted(syn_classes, ys)
    use_sklearn = backend == "sklearn" or (backend == "auto" and _has_sklearn())
    fit = _sklearn_scores if use_sklearn else _numpy_scores
    z = fit(Xs_std, ys_idx, len(syn_classes), Xr_std, C, max_iter)
    if metric == "auc":
        from .metrics import roc_auc

        # with two synthetic classes they equal the two labels: column 1 is the larger
        return roc_auc(z[:, 1], yr == labels[1])
    pred = syn_classes[np.argmax(z, axis=1)]
    return float(np.mean(pred == yr))


def utility_report(schema, real, synthetic, *, target: str | None = None, backend: str = "auto") -> dict:
    """1-way/2-way TVD, correlation difference and (optionally) TSTR from tables.

    Not DP: reads the real data.

    Parameters
    ----------
    schema : redp.schema.Schema
    real, synthetic : table
        Anything the schema's encoders accept.
    target : str, optional
        A categorical column to predict for :func:`tstr` from the
        distance encoding of all other columns.
    backend : {"auto", "sklearn", "numpy"}
        TSTR backend.

    Returns
    -------
    dict
        ``tvd_1way``, ``tvd_2way`` (NaN with one column), ``correlation_difference``
        and, with ``target``, ``tstr``.

    Examples
    --------
    >>> import numpy as np
    >>> from redp.schema import Schema, Continuous, Categorical
    >>> sc = Schema({"x": Continuous(0, 1, bins=4), "c": Categorical(["a", "b"])})
    >>> t = {"x": np.array([0.1, 0.9, 0.2, 0.8]), "c": np.array(["a", "b", "a", "b"])}
    >>> rep = utility_report(sc, t, t, target="c", backend="numpy")
    >>> rep["tvd_1way"], rep["tvd_2way"], rep["correlation_difference"], rep["tstr"]
    (0.0, 0.0, 0.0, 1.0)
    """
    from ..schema import Categorical, Schema

    func = "utility_report"
    card = schema.cardinalities
    rc, sc = schema.encode_marginal(real), schema.encode_marginal(synthetic)
    out = {
        "tvd_1way": tvd_1way(rc, sc, card),
        "tvd_2way": tvd_2way(rc, sc, card) if len(card) > 1 else float("nan"),
        "correlation_difference": correlation_difference(
            schema.encode_distance(real), schema.encode_distance(synthetic)
        ),
    }
    if target is not None:
        if target not in schema.names or not isinstance(schema.columns[target], Categorical):
            raise ValueError(
                f"The 'target' parameter of {func} must name a categorical column of the schema. Got {target!r} instead."
            )
        if len(schema.names) < 2:
            raise ValueError(f"{func} needs at least one feature column besides the target.")
        features = Schema({n: s for n, s in schema.columns.items() if n != target})
        j = schema.names.index(target)
        out["tstr"] = tstr(
            features.encode_distance(synthetic), sc[:, j], features.encode_distance(real), rc[:, j], backend=backend
        )
    return out
