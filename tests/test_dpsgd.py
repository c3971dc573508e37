"""Tests for redp.synth.dpsgd: the weighted DP-SGD step and its accountant."""

import numpy as np
import pytest

from redp import accounting, mechanisms
from redp.errors import BudgetExceededError, InputTypeError, PrivacyParameterError
from redp.synth.dpsgd import WeightedDPSGD, calibrate_noise_multiplier, individual_sampling_epsilon

DELTA = 1e-5


def _eps(q, sigma, steps, delta=DELTA, extra_rho=0.0):
    orders = np.asarray(accounting.DEFAULT_ORDERS, dtype=float)
    rdp = np.asarray(accounting.subsampled_gaussian_rdp(q, sigma, steps, orders)) + orders * extra_rho
    return accounting.rdp_to_epsilon(orders, rdp, delta)[0]


# -- the step ------------------------------------------------------------------------
@pytest.mark.parametrize("influence", ["scale", "sample"])
def test_step_equals_clip_scale_sum_plus_noise(rng, influence):
    seed = 1234
    g = rng.standard_normal((37, 11)) * rng.uniform(0.1, 5.0, size=(37, 1))
    w = rng.uniform(0.2, 1.0, size=37)
    sigma, C, q, n_pub = 1.3, 0.7, 0.05, 700
    opt = WeightedDPSGD(sigma, C, q, n_pub, influence=influence, rng=seed)
    out = opt.step(g, w)
    noise_gen = np.random.default_rng(seed).spawn(2)[0]  # the documented noise stream
    eff_w = w if influence == "scale" else np.ones_like(w)
    expect = (mechanisms.clip_scale_sum(g, eff_w, C)
              + mechanisms.gaussian_noise((11,), sigma * C, noise_gen)) / (q * n_pub)
    np.testing.assert_allclose(out, expect, rtol=1e-12, atol=1e-15)
    assert out.dtype == np.float64 and out.shape == (11,)
    assert opt.steps == 1


def test_step_weights_scale_contributions(rng):
    # sigma tiny: the step is (almost exactly) the weighted clipped mean, and halving
    # every weight halves it.
    g = rng.standard_normal((20, 4))
    w = rng.uniform(0.2, 1.0, size=20)
    a = WeightedDPSGD(1e-9, 10.0, 0.5, 40, rng=0).step(g, w)
    b = WeightedDPSGD(1e-9, 10.0, 0.5, 40, rng=0).step(g, 0.5 * w)
    np.testing.assert_allclose(a, (w[:, None] * g).sum(0) / 20.0, rtol=1e-6)
    np.testing.assert_allclose(b, 0.5 * a, rtol=1e-6)


def test_step_empty_batch_is_pure_noise_and_charged():
    opt = WeightedDPSGD(2.0, 1.0, 0.1, 50, rng=3)
    out = opt.step(np.zeros((0, 5)))
    assert out.shape == (5,) and np.all(out != 0.0)
    assert opt.steps == 1
    # noise scale: sigma * C / (q n_public) = 2 / 5 per coordinate
    outs = np.stack([opt.step(np.zeros((0, 5))) for _ in range(400)])
    assert abs(outs.std() / 0.4 - 1.0) < 0.06


def test_step_deterministic_for_seed(rng):
    g = rng.standard_normal((10, 3))
    runs = []
    for _ in range(2):
        opt = WeightedDPSGD(1.0, 1.0, 0.1, 100, rng=7)
        runs.append(np.stack([opt.step(g) for _ in range(3)]))
    np.testing.assert_array_equal(runs[0], runs[1])
    opt = WeightedDPSGD(1.0, 1.0, 0.1, 100, rng=8)
    assert not np.array_equal(runs[0][0], opt.step(g))


def test_step_input_errors():
    opt = WeightedDPSGD(1.0, 1.0, 0.1, 100, rng=0)
    with pytest.raises(ValueError, match=r"must be a 2-D array \(B, p\). Got shape \(3,\) instead"):
        opt.step(np.ones(3))
    with pytest.raises(InputTypeError, match="must be a real array"):
        opt.step(np.array([["a"]]))
    with pytest.raises(ValueError, match="must be finite"):
        opt.step(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match=r"The 'weights' parameter of WeightedDPSGD.step must have every "
                                         r"entry in \[0.0, 1.0\]. Got 1.5 instead."):
        opt.step(np.ones((2, 2)), [0.5, 1.5])
    with pytest.raises(ValueError, match=r"must have shape \(2,\)"):
        opt.step(np.ones((2, 2)), [0.5])
    assert opt.steps == 0  # nothing charged on bad input


def test_constructor_errors():
    with pytest.raises(PrivacyParameterError, match="The 'noise_multiplier' parameter of WeightedDPSGD"):
        WeightedDPSGD(0.0, 1.0, 0.1, 10)
    with pytest.raises(PrivacyParameterError, match="The 'sample_rate' parameter of WeightedDPSGD"):
        WeightedDPSGD(1.0, 1.0, 1.5, 10)
    with pytest.raises(ValueError, match=r"The 'influence' parameter of WeightedDPSGD must be one of "
                                         r"\('scale', 'sample'\). Got 'clip' instead."):
        WeightedDPSGD(1.0, 1.0, 0.1, 10, influence="clip")
    with pytest.raises(ValueError, match=r"The 'n_public' parameter of WeightedDPSGD must be an int in "
                                         r"the range \[1, inf\). Got 0 instead."):
        WeightedDPSGD(1.0, 1.0, 0.1, 0)
    with pytest.raises(InputTypeError, match="The 'rng' parameter of WeightedDPSGD"):
        WeightedDPSGD(1.0, 1.0, 0.1, 10, rng="fast")


# -- batch sampling ----------------------------------------------------------------
def test_sample_batch_scale_rate(rng):
    opt = WeightedDPSGD(1.0, 1.0, 0.1, 1000, rng=0)
    n, reps = 1000, 300
    counts = np.zeros(n)
    sizes = []
    for _ in range(reps):
        idx = opt.sample_batch(n, rng=rng)
        assert idx.dtype == np.int64 and np.all(np.diff(idx) > 0)
        counts[idx] += 1
        sizes.append(idx.size)
    # Binomial(n, q): mean 100, sd ~9.5; the mean of 300 draws has sd ~0.55
    assert abs(np.mean(sizes) - 100.0) < 2.5
    assert abs(np.std(sizes) - np.sqrt(90.0)) < 1.5
    # every record at rate q (a rate off by 10% would move this mean by 3, many sds)
    assert abs(counts[:500].mean() - 30.0) < 1.0 and abs(counts[500:].mean() - 30.0) < 1.0


def test_sample_batch_individualised_rate(rng):
    opt = WeightedDPSGD(1.0, 1.0, 0.2, 1000, influence="sample", rng=0)
    w = np.repeat([0.0, 0.25, 1.0], 200)
    counts = np.zeros(600)
    reps = 400
    for _ in range(reps):
        counts[opt.sample_batch(600, w, rng=rng)] += 1
    freq = counts.reshape(3, 200).mean(1) / reps
    assert freq[0] == 0.0
    np.testing.assert_allclose(freq[1:], [0.05, 0.2], rtol=0.05)


def test_sample_batch_needs_weights_for_sample():
    opt = WeightedDPSGD(1.0, 1.0, 0.2, 10, influence="sample", rng=0)
    with pytest.raises(ValueError, match="is required with influence='sample'"):
        opt.sample_batch(10)


def test_sample_batch_deterministic_and_secure():
    a = WeightedDPSGD(1.0, 1.0, 0.3, 100, rng=5).sample_batch(100)
    b = WeightedDPSGD(1.0, 1.0, 0.3, 100, rng=5).sample_batch(100)
    np.testing.assert_array_equal(a, b)
    sec = WeightedDPSGD(1.0, 1.0, 0.3, 100, influence="sample", rng="secure")
    sizes = [sec.sample_batch(1000, np.full(1000, 0.5)).size for _ in range(50)]
    assert abs(np.mean(sizes) - 150.0) < 8.0


# -- accounting ----------------------------------------------------------------------
def test_epsilon_matches_privacy_core():
    opt = WeightedDPSGD(1.1, 1.0, 0.01, 10_000, rng=0)
    assert opt.epsilon(DELTA) == 0.0
    opt.steps = 800
    assert opt.epsilon(DELTA) == _eps(0.01, 1.1, 800)
    assert opt.epsilon(DELTA, uniform_rho=0.02) == _eps(0.01, 1.1, 800, extra_rho=0.02)
    sample = WeightedDPSGD(1.1, 1.0, 0.01, 10_000, influence="sample", rng=0)
    sample.steps = 800
    assert sample.epsilon(DELTA) == opt.epsilon(DELTA)


@pytest.mark.parametrize("influence", ["scale", "sample"])
def test_per_record_epsilon_weight_one_is_global(influence):
    opt = WeightedDPSGD(0.9, 1.0, 0.02, 5000, influence=influence, rng=0)
    opt.steps = 300
    w = np.array([1.0, 1.0, 0.75, 0.5, 0.2])
    eps = opt.per_record_epsilon(w, DELTA, uniform_rho=0.01)
    glob = opt.epsilon(DELTA, uniform_rho=0.01)
    assert eps[0] == eps[1] == pytest.approx(glob, rel=1e-12)
    assert np.all(np.diff(eps[1:]) < 0)  # lower weight, lower epsilon


def test_scale_per_record_matches_privacy_core():
    opt = WeightedDPSGD(0.9, 1.0, 0.02, 5000, rng=0)
    opt.steps = 300
    w = np.array([0.2, 0.5, 1.0])
    expect = accounting.per_record_epsilon(w, DELTA, dpsgd=(0.02, 0.9, 300), uniform_rho=0.0)
    np.testing.assert_array_equal(opt.per_record_epsilon(w, DELTA), expect)


def test_individual_sampling_epsilon_exact_buckets():
    q, sigma, steps = 0.02, 0.9, 300
    # 0.3 rounds up to 77/256; 0.5 is on the grid; 0.5 + 1e-9 rounds up to 129/256
    w = np.array([0.3, 0.5, 0.5 + 1e-9, 0.0])
    eps = individual_sampling_epsilon(w, DELTA, sample_rate=q, noise_multiplier=sigma, steps=steps)
    assert eps[0] == _eps(q * 77 / 256, sigma, steps)
    assert eps[1] == _eps(q * 0.5, sigma, steps)
    assert eps[2] == _eps(q * 129 / 256, sigma, steps)
    assert eps[3] == 0.0
    # a zero-weight record still pays the uniform part
    eps_u = individual_sampling_epsilon([0.0], DELTA, sample_rate=q, noise_multiplier=sigma,
                                        steps=steps, uniform_rho=0.05)
    orders = np.asarray(accounting.DEFAULT_ORDERS, dtype=float)
    assert eps_u[0] == accounting.rdp_to_epsilon(orders, orders * 0.05, DELTA)[0]


def test_sample_and_scale_variants_differ():
    kw = dict(noise_multiplier=0.9, max_grad_norm=1.0, sample_rate=0.02, n_public=5000, rng=0)
    a, b = WeightedDPSGD(influence="scale", **kw), WeightedDPSGD(influence="sample", **kw)
    a.steps = b.steps = 300
    ea, eb = a.per_record_epsilon([0.5], DELTA), b.per_record_epsilon([0.5], DELTA)
    assert ea[0] < a.epsilon(DELTA) and eb[0] < b.epsilon(DELTA)
    assert abs(ea[0] - eb[0]) > 1e-3


def test_per_record_errors():
    opt = WeightedDPSGD(1.0, 1.0, 0.1, 10, rng=0)
    with pytest.raises(PrivacyParameterError, match=r"The 'delta' parameter of WeightedDPSGD.epsilon"):
        opt.epsilon(0.0)
    with pytest.raises(ValueError, match=r"Got -0.1 instead"):
        opt.per_record_epsilon([-0.1], DELTA)
    with pytest.raises(PrivacyParameterError, match="The 'uniform_rho' parameter"):
        opt.per_record_epsilon([0.5], DELTA, uniform_rho=-1.0)


# -- calibration ---------------------------------------------------------------------
def test_calibrate_matches_core_without_prior():
    s = calibrate_noise_multiplier(2.0, DELTA, 0.01, 1000)
    assert s == accounting.calibrate_dpsgd(2.0, DELTA, 0.01, 1000)
    assert WeightedDPSGD.calibrate(2.0, DELTA, 0.01, 1000) == s


@pytest.mark.parametrize("prior_rho", [1e-4, 0.02, 0.1])
def test_calibrate_with_prior_never_overshoots_and_is_tight(prior_rho):
    target = 3.0
    s = calibrate_noise_multiplier(target, DELTA, 0.02, 500, prior_rho=prior_rho)
    assert _eps(0.02, s, 500, extra_rho=prior_rho) <= target
    assert _eps(0.02, s * (1 - 1e-4), 500, extra_rho=prior_rho) > target
    if prior_rho == 1e-4:
        s0 = calibrate_noise_multiplier(target, DELTA, 0.02, 500)
        assert s > s0 and s == pytest.approx(s0, rel=0.05)


def test_calibrate_small_sigma_branch():
    s = calibrate_noise_multiplier(50.0, DELTA, 0.5, 2, prior_rho=1e-3)
    assert s < 1.0
    assert _eps(0.5, s, 2, extra_rho=1e-3) <= 50.0 < _eps(0.5, s * 0.999, 2, extra_rho=1e-3)


def test_calibrate_prior_exhausts_budget():
    with pytest.raises(BudgetExceededError, match="leaves nothing of epsilon = 1 for DP-SGD"):
        calibrate_noise_multiplier(1.0, DELTA, 0.01, 100, prior_rho=1.0)
    with pytest.raises(PrivacyParameterError, match="The 'epsilon' parameter of calibrate_noise_multiplier"):
        calibrate_noise_multiplier(0.0, DELTA, 0.01, 100)
    with pytest.raises(ValueError, match=r"The 'steps' parameter of calibrate_noise_multiplier must be an "
                                         r"int in the range \[1, inf\). Got 0 instead."):
        calibrate_noise_multiplier(1.0, DELTA, 0.01, 0)


def test_end_to_end_training_loop_spends_what_was_calibrated(rng):
    q, T, target = 0.05, 40, 1.5
    sigma = WeightedDPSGD.calibrate(target, DELTA, q, T, prior_rho=0.01)
    opt = WeightedDPSGD(sigma, 1.0, q, 400, rng=rng)
    x = rng.standard_normal((400, 3)) + 2.0
    w = rng.uniform(0.2, 1.0, 400)
    theta = np.zeros(3)
    for _ in range(T):  # DP mean estimation by SGD on 0.5 ||x - theta||^2
        idx = opt.sample_batch(400, w)
        theta -= 0.5 * opt.step(theta - x[idx], w[idx])
    assert opt.steps == T
    assert opt.epsilon(DELTA, uniform_rho=0.01) <= target
    assert np.all(opt.per_record_epsilon(w, DELTA, uniform_rho=0.01) <= target)
    assert opt.accounting == dict(q=q, noise_multiplier=sigma, steps=T, influence="scale")
