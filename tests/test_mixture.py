"""Tests for the mixture kernels (redp._kernels.mixture) and MixtureSynthesizer."""

import numba
import numpy as np
import pytest

from redp._kernels.mixture import mixture_loglik, mixture_nll_grad, n_parameters
from redp.errors import (BudgetExceededError, InputTypeError, NotFittedError, PrivacyParameterError,
                         SchemaError)
from redp.synth.mixture import MixtureSynthesizer

DELTA = 1e-5


# -- NumPy reference (slow, obviously correct) -----------------------------------------
def _unpack(theta, K, cards, D):
    C = int(np.sum(cards))
    a = theta[:K]
    blocks, pos = [], K
    for c in cards:
        blocks.append(theta[pos:pos + K * c].reshape(K, c))
        pos += K * c
    mu = theta[pos:pos + K * D].reshape(K, D)
    ls = theta[pos + K * D:pos + 2 * K * D].reshape(K, D)
    assert pos + 2 * K * D == K * (1 + C + 2 * D) == theta.size
    return a, blocks, mu, ls


def _log_softmax(v, axis=-1):
    m = v.max(axis=axis, keepdims=True)
    return v - m - np.log(np.exp(v - m).sum(axis=axis, keepdims=True))


def ref_joint(theta, codes, cont, K, cards):
    """ell[b, k] = log pi_k + log p(x_b | k)."""
    D = cont.shape[1]
    a, blocks, mu, ls = _unpack(theta, K, cards, D)
    ell = np.tile(_log_softmax(a), (codes.shape[0], 1))
    for j, L in enumerate(blocks):
        ell += _log_softmax(L)[:, codes[:, j]].T
    z = (cont[:, None, :] - mu[None]) / np.exp(ls)[None]
    ell += (-0.5 * np.log(2 * np.pi) - ls[None] - 0.5 * z ** 2).sum(-1)
    return ell


def ref_loglik(theta, codes, cont, K, cards):
    ell = ref_joint(theta, codes, cont, K, cards)
    m = ell.max(1, keepdims=True)
    return (m + np.log(np.exp(ell - m).sum(1, keepdims=True)))[:, 0]


def ref_nll_grad(theta, codes, cont, K, cards):
    D = cont.shape[1]
    a, blocks, mu, ls = _unpack(theta, K, cards, D)
    ell = ref_joint(theta, codes, cont, K, cards)
    r = np.exp(_log_softmax(ell))  # (B, K)
    B = codes.shape[0]
    parts = [np.exp(_log_softmax(a))[None] - r]
    for j, L in enumerate(blocks):
        p = np.exp(_log_softmax(L))  # (K, c)
        onehot = np.eye(L.shape[1])[codes[:, j]]  # (B, c)
        parts.append((r[:, :, None] * (p[None] - onehot[:, None, :])).reshape(B, K * L.shape[1]))
    var = np.exp(2 * ls)
    z = cont[:, None, :] - mu[None]
    parts.append((-r[:, :, None] * z / var[None]).reshape(B, K * D))
    parts.append((r[:, :, None] * (1 - z ** 2 / var[None])).reshape(B, K * D))
    return np.concatenate(parts, axis=1)


def _problem(rng, K, cards, D, B):
    cards = np.asarray(cards, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(cards)]).astype(np.int64)
    theta = rng.normal(size=n_parameters(K, cards, D)) * 0.7
    codes = (np.stack([rng.integers(0, c, B) for c in cards], 1) if cards.size
             else np.zeros((B, 0))).astype(np.int64)
    cont = rng.random((B, D))
    return theta, codes, offsets, cont, cards


SHAPES = [(3, [3, 2, 4], 2, 7), (1, [5], 0, 4), (4, [], 3, 6), (2, [1, 2], 1, 1), (3, [2], 1, 0)]


# -- kernels ------------------------------------------------------------------------
@pytest.mark.parametrize("K,cards,D,B", SHAPES)
def test_kernels_match_numpy_reference(rng, K, cards, D, B):
    theta, codes, offsets, cont, cards = _problem(rng, K, cards, D, B)
    ll = mixture_loglik(theta, codes, offsets, cont, K)
    g = mixture_nll_grad(theta, codes, offsets, cont, K)
    assert ll.shape == (B,) and g.shape == (B, theta.size)
    assert ll.dtype == g.dtype == np.float64
    np.testing.assert_allclose(ll, ref_loglik(theta, codes, cont, K, cards), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g, ref_nll_grad(theta, codes, cont, K, cards), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("K,cards,D,B", SHAPES[:3])
def test_gradient_matches_finite_differences(rng, K, cards, D, B):
    theta, codes, offsets, cont, _ = _problem(rng, K, cards, D, B)
    g = mixture_nll_grad(theta, codes, offsets, cont, K)
    h = 1e-6
    fd = np.empty_like(g)
    for p in range(theta.size):
        e = np.zeros_like(theta)
        e[p] = h
        fd[:, p] = -(mixture_loglik(theta + e, codes, offsets, cont, K)
                     - mixture_loglik(theta - e, codes, offsets, cont, K)) / (2 * h)
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-6)


def test_kernels_stable_for_extreme_parameters(rng):
    theta, codes, offsets, cont, cards = _problem(rng, 3, [4], 2, 50)
    theta[:3] = [500.0, -500.0, 0.0]   # saturated mixing logits
    theta[3:15] *= 200.0               # saturated categorical logits
    ll = mixture_loglik(theta, codes, offsets, cont, 3)
    g = mixture_nll_grad(theta, codes, offsets, cont, 3)
    assert np.all(np.isfinite(ll)) and np.all(np.isfinite(g))
    np.testing.assert_allclose(ll, ref_loglik(theta, codes, cont, 3, cards), rtol=1e-10)


def test_kernels_independent_of_thread_count(rng):
    theta, codes, offsets, cont, _ = _problem(rng, 5, [3, 7], 4, 3000)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        g1 = mixture_nll_grad(theta, codes, offsets, cont, 5)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        g2 = mixture_nll_grad(theta, codes, offsets, cont, 5)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(g1, g2)
    # the serial and parallel schedules agree bit for bit
    from redp._kernels import mixture as km

    np.testing.assert_array_equal(km._grad_serial(theta, codes, offsets, cont, 5),
                                  km._grad_parallel(theta, codes, offsets, cont, 5))
    np.testing.assert_array_equal(km._loglik_serial(theta, codes, offsets, cont, 5),
                                  km._loglik_parallel(theta, codes, offsets, cont, 5))


# -- the synthesizer -------------------------------------------------------------------
def _two_cluster_data(rng, n=2000):
    z = rng.integers(0, 2, n)
    cont = np.clip(np.where(z[:, None] == 0, 0.2, 0.75) + 0.05 * rng.standard_normal((n, 2)), 0, 1)
    codes = np.stack([np.where(rng.random(n) < 0.9, z, 1 - z), rng.integers(0, 3, n)], 1)
    return codes, cont, z


@pytest.fixture(scope="module")
def two_clusters():
    return _two_cluster_data(np.random.default_rng(2024))


@pytest.mark.parametrize("influence", ["scale", "sample"])
def test_recovers_two_clusters_at_large_epsilon(two_clusters, influence):
    codes, cont, z = two_clusters
    model = MixtureSynthesizer(n_components=2, epochs=15, sample_rate=0.05, learning_rate=0.03,
                               max_grad_norm=20.0, influence=influence)
    model.fit_arrays(codes, [2, 3], cont, epsilon=1e4, delta=DELTA, rng=11)
    order = np.argsort(model.means_[:, 0])
    np.testing.assert_allclose(model.means_[order], [[0.2, 0.2], [0.75, 0.75]], atol=0.03)
    np.testing.assert_allclose(model.mixing_, [0.5, 0.5], atol=0.08)
    np.testing.assert_allclose(model.stds_, 0.05, atol=0.02)
    p0 = model.category_probs_[0][order]
    np.testing.assert_allclose(p0[:, 0], [0.9, 0.1], atol=0.08)
    # samples reproduce the data's marginals
    c, x = model.sample_arrays(20_000, rng=1)
    np.testing.assert_allclose(x.mean(0), cont.mean(0), atol=0.03)
    np.testing.assert_allclose(np.bincount(c[:, 1], minlength=3) / 20_000, 1 / 3, atol=0.05)
    # and the model prefers real rows to shuffled ones
    shuffled = np.column_stack([cont[:, 0], np.random.default_rng(0).permutation(cont[:, 1])])
    assert model.log_likelihood(codes, cont).mean() > model.log_likelihood(codes, shuffled).mean() + 1.0


def test_fit_is_deterministic(two_clusters):
    codes, cont, _ = two_clusters
    kw = dict(n_components=3, epochs=2, sample_rate=0.05)
    a = MixtureSynthesizer(**kw).fit_arrays(codes, [2, 3], cont, epsilon=1.0, delta=DELTA, rng=5)
    b = MixtureSynthesizer(**kw).fit_arrays(codes, [2, 3], cont, epsilon=1.0, delta=DELTA, rng=5)
    c = MixtureSynthesizer(**kw).fit_arrays(codes, [2, 3], cont, epsilon=1.0, delta=DELTA, rng=6)
    np.testing.assert_array_equal(a.theta_, b.theta_)
    assert not np.array_equal(a.theta_, c.theta_)
    for u, v in zip(a.sample_arrays(50, rng=3), b.sample_arrays(50, rng=3)):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("prior_rho", [0.0, 0.02])
def test_calibrated_budget_and_privacy_map(two_clusters, prior_rho):
    codes, cont, _ = two_clusters
    w = np.sort(np.resize(np.linspace(0.2, 1.0, 17), codes.shape[0]))  # 17 weight buckets
    model = MixtureSynthesizer(n_components=2, epochs=1, sample_rate=0.1)
    model.fit_arrays(codes, [2, 3], cont, w, epsilon=2.0, delta=DELTA, prior_rho=prior_rho,
                     n_public=2500, rng=0)
    acc = model.accounting
    assert acc == dict(q=0.1, noise_multiplier=model.noise_multiplier_, steps=10, influence="scale")
    assert model.n_public_ == 2500 and model._dpsgd.n_public == 2500
    eps_glob = model.epsilon(DELTA, uniform_rho=prior_rho)
    assert eps_glob <= 2.0 and eps_glob == pytest.approx(2.0, rel=1e-3)
    eps_i = model.privacy_map(w, DELTA, uniform_rho=prior_rho)
    assert eps_i.shape == w.shape
    assert eps_i[-1] == pytest.approx(eps_glob, rel=1e-12)
    assert np.all(np.diff(eps_i) >= 0) and eps_i[0] < 0.5 * eps_glob


def test_sample_influence_privacy_map(two_clusters):
    codes, cont, _ = two_clusters
    w = np.where(np.arange(codes.shape[0]) % 2 == 0, 1.0, 0.25)
    model = MixtureSynthesizer(n_components=2, epochs=1, sample_rate=0.1, influence="sample")
    model.fit_arrays(codes, [2, 3], cont, w, epsilon=2.0, delta=DELTA, rng=0)
    eps_i = model.privacy_map(w, DELTA)
    assert eps_i[0] == pytest.approx(model.epsilon(DELTA), rel=1e-12)
    assert eps_i[1] < eps_i[0]
    assert model.accounting["influence"] == "sample"


def test_sample_arrays_matches_model_distribution():
    model = MixtureSynthesizer(n_components=2, epochs=1, sample_rate=0.5)
    model.fit_arrays(np.zeros((4, 1), dtype=int), [3], np.full((4, 1), 0.5), epsilon=1.0,
                     delta=DELTA, rng=0)
    # overwrite with known parameters: pi = (0.25, 0.75), levels, N(0.3, 0.1) / N(0.7, 0.1)
    th = np.zeros_like(model.theta_)
    th[:2] = np.log([0.25, 0.75])
    th[2:8] = np.log([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]).ravel()
    th[8:10] = [0.3, 0.7]
    th[10:12] = np.log(0.1)
    model.theta_ = th
    c, x = model.sample_arrays(40_000, rng=9)
    expect = 0.25 * np.array([0.7, 0.2, 0.1]) + 0.75 * np.array([0.1, 0.1, 0.8])
    freq = np.bincount(c[:, 0], minlength=3) / 40_000
    np.testing.assert_allclose(freq, expect, atol=0.01)
    assert abs(x.mean() - (0.25 * 0.3 + 0.75 * 0.7)) < 0.005
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert c.dtype == np.int64 and x.dtype == np.float64
    assert model.sample_arrays(0, rng=0)[0].shape == (0, 1)


def test_fit_input_errors():
    m = MixtureSynthesizer(n_components=2, epochs=1, sample_rate=0.5)
    codes = np.array([[0], [1], [2]])
    cont = np.full((3, 1), 0.5)
    with pytest.raises(SchemaError, match=r"Expected categorical codes in \[0, 2\) for column 0, but row 2 "
                                          r"has code 2."):
        m.fit_arrays(codes, [2], cont, epsilon=1.0, delta=DELTA)
    with pytest.raises(SchemaError, match=r"must hold schema-scaled values in \[0, 1\]. Got 1.5 at row 1"):
        m.fit_arrays(codes, [3], np.array([[0.5], [1.5], [0.2]]), epsilon=1.0, delta=DELTA)
    with pytest.raises(SchemaError, match="Expected one cardinality per categorical column"):
        m.fit_arrays(codes, [3, 3], cont, epsilon=1.0, delta=DELTA)
    with pytest.raises(InputTypeError, match="The 'cat_codes' parameter of MixtureSynthesizer.fit_arrays "
                                             "must be an integer array"):
        m.fit_arrays(codes.astype(float), [3], cont, epsilon=1.0, delta=DELTA)
    with pytest.raises(ValueError, match="same number of rows"):
        m.fit_arrays(codes, [3], cont[:2], epsilon=1.0, delta=DELTA)
    with pytest.raises(ValueError, match=r"The 'weights' parameter of MixtureSynthesizer.fit_arrays must "
                                         r"have every entry in \[0.0, 1.0\]. Got 2.0 instead."):
        m.fit_arrays(codes, [3], cont, [1.0, 2.0, 0.5], epsilon=1.0, delta=DELTA)
    with pytest.raises(PrivacyParameterError, match="The 'delta' parameter"):
        m.fit_arrays(codes, [3], cont, epsilon=1.0, delta=0.0)
    with pytest.raises(BudgetExceededError):
        m.fit_arrays(codes, [3], cont, epsilon=0.5, delta=DELTA, prior_rho=1.0)
    assert not hasattr(m, "theta_")  # nothing fitted, nothing spent
    with pytest.raises(NotFittedError, match="Call 'fit_arrays' before 'sample_arrays'"):
        m.sample_arrays(3)
    with pytest.raises(ValueError, match=r"The 'n_components' parameter of MixtureSynthesizer must be an "
                                         r"int in the range \[1, inf\). Got 0 instead."):
        MixtureSynthesizer(n_components=0)
    with pytest.raises(ValueError, match="The 'optimizer' parameter of MixtureSynthesizer"):
        MixtureSynthesizer(optimizer="lbfgs")


def test_sgd_optimizer_and_only_continuous(rng):
    x = np.clip(0.5 + 0.1 * rng.standard_normal((500, 1)), 0, 1)
    m = MixtureSynthesizer(n_components=1, epochs=20, sample_rate=0.1, optimizer="sgd",
                           learning_rate=0.01, max_grad_norm=50.0)
    m.fit_arrays(None, [], x, epsilon=1e4, delta=DELTA, rng=0)
    assert abs(m.means_[0, 0] - 0.5) < 0.03
    c, s = m.sample_arrays(10, rng=0)
    assert c.shape == (10, 0) and s.shape == (10, 1)


def test_secure_default_rng_runs_without_warning(recwarn):
    x = np.full((50, 1), 0.5)
    m = MixtureSynthesizer(n_components=1, epochs=1, sample_rate=0.2)
    m.fit_arrays(None, [], x, epsilon=1.0, delta=DELTA)  # rng=None: OS CSPRNG
    assert m.steps_ == 5 and np.all(np.isfinite(m.theta_))
    assert not [w for w in recwarn if "seeded" in str(w.message)]


def test_fit_and_sample_on_a_table(rng):
    from redp.schema import Categorical, Continuous, Schema

    schema = Schema({"age": Continuous(0, 100), "sex": Categorical(["F", "M"]),
                     "grp": Categorical(["a", "b", "c"])})
    n = 300
    table = {"age": rng.uniform(20, 60, n), "sex": rng.choice(["F", "M"], n),
             "grp": rng.choice(["a", "b", "c"], n)}
    m = MixtureSynthesizer(n_components=2, epochs=2, sample_rate=0.1)
    with pytest.raises(NotFittedError, match="not fitted on a table"):
        m.sample(2)
    m.fit(table, schema, epsilon=5.0, delta=DELTA, prior_rho=0.01, rng=0)
    assert m.cardinalities_.tolist() == [2, 3] and m.n_cont_ == 1
    out = m.sample(500, rng=1)
    assert set(out) == {"age", "sex", "grp"} and len(out["age"]) == 500
    assert set(np.unique(out["sex"])) <= {"F", "M"}
    assert np.all((out["age"] >= 0) & (out["age"] <= 100))
    m.fit_arrays(np.zeros((5, 0), dtype=int), [], np.full((5, 1), 0.5), epsilon=1.0, delta=DELTA, rng=0)
    with pytest.raises(NotFittedError):  # the array fit forgets the table's schema
        m.sample(2)
