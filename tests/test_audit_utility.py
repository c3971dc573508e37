import itertools

import numpy as np
import pytest

from redp.audit import correlation_difference, tstr, tvd_1way, tvd_2way, utility_report
from redp.audit.utility import _fit_binary_logreg
from redp.errors import InputTypeError
from redp.schema import Categorical, Continuous, Schema


def test_tvd_hand_made_cases():
    a = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    assert tvd_1way(a, a, (2, 2)) == 0.0
    assert tvd_2way(a, a, (2, 2)) == 0.0
    # disjoint supports -> 1
    assert tvd_1way([[0]], [[1]], [2]) == 1.0
    # column 0: real (1/2, 1/2, 0) vs syn (1/4, 1/4, 1/2) -> 0.5; column 1 identical
    real = [[0, 0], [1, 0], [0, 1], [1, 1]]
    syn = [[0, 0], [1, 0], [2, 1], [2, 1]]
    np.testing.assert_allclose(tvd_1way(real, syn, (3, 2), average=False), [0.5, 0.0])
    assert tvd_1way(real, syn, (3, 2)) == 0.25
    # independent vs perfectly correlated with equal 1-way margins
    indep = [[0, 0], [0, 1], [1, 0], [1, 1]]
    corr = [[0, 0], [1, 1], [0, 0], [1, 1]]
    assert tvd_1way(indep, corr, (2, 2)) == 0.0
    assert tvd_2way(indep, corr, (2, 2)) == 0.5


def test_tvd_2way_matches_brute_force(rng):
    card = (3, 4, 2, 5)
    real = np.column_stack([rng.integers(0, c, 500) for c in card])
    syn = np.column_stack([rng.integers(0, c, 300) for c in card])
    expected = []
    for i, j in itertools.combinations(range(4), 2):
        tot = 0.0
        for u in range(card[i]):
            for v in range(card[j]):
                p = np.mean((real[:, i] == u) & (real[:, j] == v))
                q = np.mean((syn[:, i] == u) & (syn[:, j] == v))
                tot += abs(p - q)
        expected.append(tot / 2)
    np.testing.assert_allclose(tvd_2way(real, syn, card, average=False), expected)
    assert tvd_2way(real, syn, card) == pytest.approx(np.mean(expected))
    np.testing.assert_allclose(tvd_2way(real, syn, card, pairs=[(1, 3)], average=False), [expected[4]])


def test_tvd_errors():
    with pytest.raises(ValueError, match=r"must satisfy 0 <= codes\[:, j\] < cardinalities\[j\] = \(2,\)"):
        tvd_1way([[0]], [[2]], [2])
    with pytest.raises(InputTypeError, match="The 'real_codes' parameter of tvd_1way must be a 2-D integer array"):
        tvd_1way([[0.5]], [[0]], [2])
    with pytest.raises(ValueError, match="tvd_2way needs at least two columns. Got 1."):
        tvd_2way([[0]], [[0]], [2])


def test_correlation_difference(rng):
    x = rng.normal(size=(500, 4))
    y = rng.normal(size=(400, 4))
    iu = np.triu_indices(4, 1)
    expected = np.abs(np.corrcoef(x.T) - np.corrcoef(y.T))[iu].mean()
    assert correlation_difference(x, y) == pytest.approx(expected)
    assert correlation_difference(x, x) == pytest.approx(0.0, abs=1e-12)
    t = np.arange(10.0)
    assert correlation_difference(np.c_[t, t], np.c_[t, -t]) == pytest.approx(2.0)
    # a constant synthetic column counts as correlation 0, not NaN
    assert correlation_difference(np.c_[t, t], np.c_[t, np.ones(10)]) == pytest.approx(1.0)
    assert correlation_difference(t[:, None], t[:, None]) == 0.0


def _logistic_data(rng, n, d=5, classes=2):
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, classes))
    logits = X @ W + rng.gumbel(size=(n, classes))
    return X * 3 + 1, np.argmax(logits, axis=1)


def test_numpy_logreg_matches_sklearn_coefficients(rng):
    from sklearn.linear_model import LogisticRegression

    X, y = _logistic_data(rng, 400)
    beta = _fit_binary_logreg(X, y.astype(float), 0.5, 100)
    m = LogisticRegression(C=0.5, tol=1e-10, max_iter=10000).fit(X, y)
    np.testing.assert_allclose(beta[:-1], m.coef_[0], rtol=1e-4, atol=1e-5)
    assert beta[-1] == pytest.approx(m.intercept_[0], rel=1e-4, abs=1e-5)


def test_tstr_fallback_agrees_with_sklearn(rng):
    X, y = _logistic_data(rng, 3000)
    auc_np = tstr(X[:1000], y[:1000], X[1000:], y[1000:], backend="numpy")
    auc_sk = tstr(X[:1000], y[:1000], X[1000:], y[1000:], backend="sklearn")
    assert auc_np > 0.75 and abs(auc_np - auc_sk) < 0.005
    # string labels, accuracy
    lab = np.array(["no", "yes"])[y]
    acc = tstr(X[:1000], lab[:1000], X[1000:], lab[1000:], metric="accuracy", backend="numpy")
    assert acc > 0.65
    # multiclass: one-vs-rest fallback vs multinomial sklearn, roughly equal accuracy
    X3, y3 = _logistic_data(rng, 3000, classes=3)
    a_np = tstr(X3[:1000], y3[:1000], X3[1000:], y3[1000:], backend="numpy")
    a_sk = tstr(X3[:1000], y3[:1000], X3[1000:], y3[1000:], backend="sklearn")
    assert a_np > 0.55 and abs(a_np - a_sk) < 0.03


def test_tstr_useless_synthetic_is_chance(rng):
    X = rng.normal(size=(2000, 3))
    y = (X[:, 0] > 0).astype(int)
    wrong = (X[:1000, 1] > 0).astype(int)  # synthetic labels follow a feature unrelated to real y
    assert abs(tstr(X[:1000], wrong, X[1000:], y[1000:], backend="numpy") - 0.5) < 0.06
    assert tstr(X[:1000], y[:1000], X[1000:], y[1000:], backend="numpy") > 0.99
    assert tstr(X[:10], np.zeros(10, int), X[1000:], y[1000:]) == 0.5
    with pytest.raises(ValueError, match="The 'metric' parameter of tstr must be 'auto', 'auc' or 'accuracy'"):
        tstr(X[:10], y[:10], X[:10], y[:10], metric="f1")
    with pytest.raises(ValueError, match="The 'real_X' parameter of tstr must have 3 columns. Got 2 instead."):
        tstr(X[:10], y[:10], X[:10, :2], y[:10])


def test_utility_report_from_tables(rng):
    sc = Schema({"x": Continuous(0, 1, bins=5), "z": Continuous(0, 1, bins=5), "c": Categorical(["a", "b"])})
    n = 600
    x = rng.random(n)
    real = {"x": x, "z": rng.random(n), "c": np.where(x + 0.1 * rng.normal(size=n) > 0.5, "b", "a")}
    z = rng.random(n)
    syn = {"x": rng.random(n), "z": z, "c": np.where(z > 0.5, "b", "a")}  # c follows the wrong column
    good = utility_report(sc, real, real, target="c", backend="numpy")
    bad = utility_report(sc, real, syn, target="c", backend="numpy")
    assert good["tvd_1way"] == 0.0 and good["tvd_2way"] == 0.0 and good["correlation_difference"] == 0.0
    assert good["tstr"] > 0.95 and abs(bad["tstr"] - 0.5) < 0.1
    assert bad["tvd_2way"] > bad["tvd_1way"] > 0 and bad["correlation_difference"] > 0.2
    with pytest.raises(ValueError, match="The 'target' parameter of utility_report must name a categorical column"):
        utility_report(sc, real, syn, target="x")
