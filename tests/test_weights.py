import numpy as np
import pytest

from redp import weights as W


def test_inverse_matches_formula(rng):
    s = rng.gamma(2.0, size=1000)
    tau, gamma, w_min = 1.5, 1.7, 0.1
    expected = np.clip((tau / s) ** gamma, w_min, 1.0)
    np.testing.assert_allclose(W.inverse_weights(s, tau, gamma=gamma, w_min=w_min), expected, rtol=1e-12)


def test_inverse_is_record_local(rng):
    s = rng.gamma(2.0, size=50)
    full = W.inverse_weights(s, 1.0)
    assert np.array_equal(full[:-1], W.inverse_weights(s[:-1], 1.0))


def test_inverse_zero_score_gets_weight_one():
    assert W.inverse_weights([0.0], 1.0)[0] == 1.0


@pytest.mark.parametrize("fn", [W.inverse_weights, W.exponential_weights, W.sigmoid_weights])
def test_weights_in_range_and_monotone(fn, rng):
    s = np.sort(rng.gamma(2.0, size=500))
    w = fn(s, 1.0, w_min=0.3)
    assert np.all((w >= 0.3) & (w <= 1.0))
    assert np.all(np.diff(w) <= 1e-15)


def test_random_is_permutation_of_same_multiset(rng):
    w = W.inverse_weights(rng.gamma(2.0, size=300), 1.0)
    r = W.random_weights(w, rng)
    assert np.array_equal(np.sort(r), np.sort(w))
    assert not np.array_equal(r, w)


def test_random_is_seeded():
    w = np.linspace(0.2, 1, 50)
    assert np.array_equal(W.random_weights(w, 3), W.random_weights(w, 3))


@pytest.mark.parametrize(
    "scores, match",
    [([1.0, np.nan], "finite and >= 0. Got nan at index 1"), ([-1.0], "Got -1.0 at index 0"), ([[1.0]], "must be 1-D")],
)
def test_bad_scores(scores, match):
    with pytest.raises(ValueError, match=match):
        W.inverse_weights(scores, 1.0)


def test_bad_w_min():
    with pytest.raises(ValueError, match=r"'w_min' parameter of inverse_weights must be a finite number in \(0.0, 1.0\]"):
        W.inverse_weights([1.0], 1.0, w_min=0.0)


def test_equalize_full_batch_equalises_risk(rng):
    from redp.accounting import per_record_epsilon

    s = rng.gamma(2.0, size=2000) + 0.05
    tau, rho1, rho2, delta = 2.0, 0.05, 1.0, 1e-6
    w = W.equalize_weights(s, tau, delta, w_min=0.05, full_batch_rho=rho2, uniform_rho=rho1)
    eps = per_record_epsilon(w, delta, full_batch=rho2, uniform_rho=rho1)
    eps_max = per_record_epsilon(np.ones(1), delta, full_batch=rho2, uniform_rho=rho1)[0]
    target = eps_max * np.minimum(1.0, tau / s)
    free = (w > 0.05) & (s > tau)
    # never above the target, and within one grid step of it
    assert np.all(eps[free] <= target[free] + 1e-12)
    w_up = np.minimum(w + 1 / 256, 1.0)
    eps_up = per_record_epsilon(w_up, delta, full_batch=rho2, uniform_rho=rho1)
    assert np.all(eps_up[free] > target[free] - 1e-12)
    assert np.all(w[s <= tau] == 1.0)


def test_equalize_dpsgd_is_root_find_not_linear(rng):
    from redp.accounting import per_record_epsilon

    s = np.array([1.0, 2.0, 4.0])
    dpsgd = (0.01, 1.0, 1000)
    w = W.equalize_weights(s, 1.0, 1e-5, w_min=0.01, dpsgd=dpsgd)
    eps = per_record_epsilon(w, 1e-5, dpsgd=dpsgd)
    assert w[0] == 1.0
    np.testing.assert_allclose(eps[1:] / eps[0], [0.5, 0.25], rtol=0.05)
    assert not np.allclose(w[1:], [0.5, 0.25], atol=0.02)  # the accountant is not linear in w


def test_equalize_needs_one_accountant():
    with pytest.raises(ValueError, match="exactly one of"):
        W.equalize_weights([1.0], 1.0, 1e-6)
