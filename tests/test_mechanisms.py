"""Tests for redp.mechanisms (DP noise) and the clip-scale-sum kernel.

Statistical tests run at alpha = 1e-6 and each comes with a power check: the
same battery must reject a sampler whose scale is off by 10% and a stream of
repeated draws.
"""

import math
import warnings
from fractions import Fraction

import numba
import numpy as np
import pytest
from scipy import special, stats

from redp import _ext, mechanisms
from redp._kernels import aggregate
from redp._reference import clip_scale_sum_reference, discrete_gaussian_reference
from redp.errors import InputTypeError, InsecureRandomnessWarning, PrivacyParameterError
from redp.mechanisms import (
    clip_scale_sum,
    discrete_gaussian,
    discrete_gaussian_pmf,
    discrete_gaussian_sigma2,
    gaussian_noise,
    gumbel_max,
    noisy_weighted_mean,
    resolve_rng,
)

ALPHA = 1e-6
SIGMAS = [0.5, 1.0, 3.0, 30.0, 1e3, 1e6]
N_DG = 200_000

pytestmark = pytest.mark.filterwarnings("ignore::redp.errors.InsecureRandomnessWarning")


# --- statistical battery for the discrete Gaussian -----------------------------


def _dg_cdf(sigma):
    """P(X <= b) as a function of integer arrays b (exact sums; Euler-Maclaurin for huge sigma)."""
    if sigma <= 1e4:
        half = math.ceil(14 * sigma) + 10
        k = np.arange(-half, half + 1)
        cum = np.cumsum(discrete_gaussian_pmf(k, sigma))

        def cdf(b):
            idx = np.clip(np.asarray(b) + half, -1, 2 * half)
            return np.where(idx < 0, 0.0, cum[np.maximum(idx, 0)])

        return cdf
    # sum_{k <= b} f(k) = Phi((b + 1/2) / sigma) + O(sigma^-2): below 1e-12 here
    return lambda b: special.ndtr((np.asarray(b, dtype=np.float64) + 0.5) / sigma)


def _dg_moments(sigma):
    if sigma <= 1e4:
        half = math.ceil(14 * sigma) + 10
        k = np.arange(-half, half + 1, dtype=np.float64)
        p = discrete_gaussian_pmf(k.astype(np.int64), sigma)
        return float(p @ k**2), float(p @ k**4)
    return sigma**2, 3 * sigma**4  # exact up to exp(-2 pi^2 sigma^2)


def _two_sided(z):
    return float(2 * special.ndtr(-abs(z)))


def dg_battery(x, sigma, n_bins=40):
    """p-values of chi-square, mean, variance, symmetry and lag-1 tests for DG(sigma)."""
    x = np.asarray(x, dtype=np.int64)
    n = x.size
    cdf = _dg_cdf(sigma)
    var, m4 = _dg_moments(sigma)
    # bins: single integers near 0 for small sigma, equal-probability ranges otherwise
    if sigma <= 30:
        half = math.ceil(14 * sigma) + 10
        k = np.arange(-half, half + 1)
        keep = k[n * discrete_gaussian_pmf(k, sigma) >= 20]
        uppers = keep  # bins (-inf, k0], (k0, k1], ..., (k_last, inf)
    else:
        q = np.linspace(0, 1, n_bins + 1)[1:-1]
        uppers = np.unique(np.round(stats.norm.ppf(q) * math.sqrt(var)).astype(np.int64))
    probs = np.diff(np.concatenate([[0.0], cdf(uppers), [1.0]]))
    counts = np.bincount(np.searchsorted(uppers, x, side="left"), minlength=probs.size)
    expected = n * probs
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    p_chi2 = float(stats.chi2.sf(chi2, probs.size - 1))
    xf = x.astype(np.float64)
    p_mean = _two_sided(xf.mean() / math.sqrt(var / n))
    p_var = _two_sided((np.mean(xf * xf) - var) / math.sqrt((m4 - var * var) / n))
    pos, neg = int((x > 0).sum()), int((x < 0).sum())
    p_sym = _two_sided((pos - neg) / math.sqrt(max(pos + neg, 1)))
    r1 = float(np.mean(xf[1:] * xf[:-1]) / var)
    p_lag = _two_sided(r1 * math.sqrt(n - 1))
    return {"chi2": p_chi2, "mean": p_mean, "var": p_var, "sym": p_sym, "lag1": p_lag}


@pytest.mark.parametrize("sigma", SIGMAS)
def test_discrete_gaussian_statistics(sigma, rng):
    x = discrete_gaussian(N_DG, sigma, rng)
    assert x.dtype == np.int64 and x.shape == (N_DG,)
    pvals = dg_battery(x, sigma)
    assert min(pvals.values()) > ALPHA, pvals


@pytest.mark.parametrize("sigma", SIGMAS)
def test_battery_rejects_sigma_off_by_ten_percent(sigma, rng):
    x = discrete_gaussian(N_DG, 1.1 * sigma, rng)
    pvals = dg_battery(x, sigma)
    assert pvals["chi2"] < ALPHA and pvals["var"] < ALPHA, pvals


@pytest.mark.slow
@pytest.mark.parametrize("sigma", SIGMAS + [0.2, 0.7, 1.7, math.pi * 10, 12345.678, 2.0**30])
@pytest.mark.parametrize("mode", ["seeded", "secure"])
def test_discrete_gaussian_statistics_large_sample(sigma, mode, rng):
    x = discrete_gaussian(2_000_000, sigma, rng if mode == "seeded" else "secure")
    pvals = dg_battery(x, sigma, n_bins=100)
    assert min(pvals.values()) > ALPHA, pvals


def test_battery_rejects_repeated_stream(rng):
    x = discrete_gaussian(N_DG // 2, 3.0, rng)
    assert dg_battery(x, 3.0)["lag1"] > ALPHA
    assert dg_battery(np.repeat(x, 2), 3.0)["lag1"] < ALPHA


@pytest.mark.parametrize("sigma", [3.0, 1e3])
def test_discrete_gaussian_secure_statistics(sigma):
    x = discrete_gaussian(N_DG, sigma, "secure")
    pvals = dg_battery(x, sigma)
    assert min(pvals.values()) > ALPHA, pvals


def test_reference_sampler_statistics(rng):
    x = discrete_gaussian_reference(3000, Fraction(9), rng)
    pvals = dg_battery(x, 3.0)
    assert min(pvals.values()) > ALPHA, pvals
    y = discrete_gaussian(3000, 3.0, rng)
    table = np.array([np.bincount(np.clip(v + 6, 0, 12), minlength=13) for v in (x, y)])
    table = table[:, table.sum(axis=0) > 0]
    assert stats.chi2_contingency(table)[1] > ALPHA


def test_discrete_gaussian_draws_differ(rng):
    a = discrete_gaussian(1000, 30.0, rng)
    b = discrete_gaussian(1000, 30.0, rng)
    assert not np.array_equal(a, b)
    s1 = discrete_gaussian(1000, 30.0, "secure")
    s2 = discrete_gaussian(1000, 30.0, None)
    assert not np.array_equal(s1, s2)
    big = discrete_gaussian(3 * 8192, 30.0, rng)  # per-block streams are distinct
    assert not np.array_equal(big[:8192], big[8192:16384])


def test_discrete_gaussian_seeded_determinism_across_threads():
    n = 5 * 8192 + 17
    runs = [discrete_gaussian(n, 7.5, rng=1234, n_threads=t) for t in (1, 2, 3, 8)]
    for r in runs[1:]:
        np.testing.assert_array_equal(runs[0], r)
    np.testing.assert_array_equal(runs[0], discrete_gaussian(n, 7.5, np.random.default_rng(1234)))
    assert not np.array_equal(runs[0], discrete_gaussian(n, 7.5, rng=1235))


def test_discrete_gaussian_shapes_and_extremes(rng):
    assert discrete_gaussian((2, 3), 1.0, rng).shape == (2, 3)
    assert discrete_gaussian(0, 1.0, rng).shape == (0,)
    assert discrete_gaussian((), 1.0, rng).shape == ()
    np.testing.assert_array_equal(discrete_gaussian(1000, 1e-300, rng), 0)
    big = discrete_gaussian(20_000, 2.0**30, rng)
    assert abs(big.std() / 2.0**30 - 1) < 0.05


def test_sigma2_rational_rounds_up():
    for sigma in SIGMAS:
        assert discrete_gaussian_sigma2(sigma) == Fraction(sigma) ** 2  # exact
    for sigma in [0.1, 1.1, math.pi, 1e-3, 12345.678, 2.0**30]:
        s2, exact = discrete_gaussian_sigma2(sigma), Fraction(sigma) ** 2
        assert exact <= s2 <= exact * (1 + Fraction(1, 2**58)) or s2 - exact < Fraction(1, 2**61)
        assert s2 - exact < Fraction(1, 2**61) or sigma >= 0.5
        num, m = mechanisms._sigma2_rational(sigma)
        assert 0 < num < 2**62 and 0 <= m <= 61


def test_native_parameters_match_formula():
    for sigma in SIGMAS + [2.0**30, 0.01]:
        num, m = mechanisms._sigma2_rational(sigma)
        t, d_hi, d_lo = _ext._dgauss_params(num, m)
        s2 = Fraction(num, 2**m)
        assert t == math.isqrt(math.floor(s2)) + 1
        assert (d_hi << 64) | d_lo == 2 * num * t * t * 2**m < 2**126


def test_square_divmod_256(rng):
    for _ in range(200):
        a = int(rng.integers(0, 2**62)) << int(rng.integers(0, 64)) | int(rng.integers(0, 2**62))
        d = (int(rng.integers(1, 2**62)) << int(rng.integers(0, 64))) | 1
        assert d < 2**127
        q_limbs, r_hi, r_lo = _ext._square_divmod(a >> 64, a & (2**64 - 1), d >> 64, d & (2**64 - 1))
        q = sum(limb << (64 * i) for i, limb in enumerate(q_limbs))
        assert (q, (r_hi << 64) | r_lo) == divmod(a * a, d)


@pytest.mark.parametrize("num,den", [(0, 1), (1, 3), (1, 1), (5, 2), (7, 2), (1, 10**18)])
def test_native_bernoulli_exp(num, den):
    n = 200_000
    hits = _ext._bexp_count(num, den, n, 99)
    p = math.exp(-num / den)
    if p == 1.0:
        assert hits == n
        return
    z = (hits - n * p) / math.sqrt(n * p * (1 - p))
    assert _two_sided(z) > ALPHA


def test_discrete_gaussian_pmf():
    for sigma in [0.5, 3.0, 5.0, 30.0, 1e3]:
        half = int(14 * sigma) + 10
        k = np.arange(-half, half + 1)
        p = discrete_gaussian_pmf(k, sigma)
        assert abs(p.sum() - 1) < 1e-12
        assert p[half] == p.max() and np.allclose(p, p[::-1])
    assert abs(discrete_gaussian_pmf(np.arange(-200, 201), 30.0).sum() - 1) > 1e-12  # can fail
    # both normaliser branches agree at the switch
    z_direct = np.exp(-(np.arange(-300, 301) ** 2) / (2 * 16.0)).sum()
    assert discrete_gaussian_pmf(np.array([0]), 4.0)[0] == pytest.approx(1 / z_direct, rel=1e-14)


# --- continuous Gaussian -------------------------------------------------------


@pytest.mark.parametrize("mode", ["seeded", "secure"])
def test_gaussian_noise_moments(mode, rng):
    n, sigma = 400_000, 2.5
    x = gaussian_noise(n, sigma, rng if mode == "seeded" else "secure")
    assert x.dtype == np.float64 and x.shape == (n,)
    assert _two_sided(x.mean() / (sigma / math.sqrt(n))) > ALPHA
    assert _two_sided((np.mean(x * x) - sigma**2) / (sigma**2 * math.sqrt(2 / n))) > ALPHA
    assert stats.kstest(x[:50_000] / sigma, "norm").pvalue > ALPHA
    wrong = gaussian_noise(n, 1.1 * sigma, rng if mode == "seeded" else "secure")
    assert _two_sided((np.mean(wrong * wrong) - sigma**2) / (sigma**2 * math.sqrt(2 / n))) < ALPHA


def test_gaussian_noise_shapes_and_streams(rng):
    assert gaussian_noise((3, 4), 1.0, rng).shape == (3, 4)
    assert gaussian_noise((), 1.0).shape == ()
    assert not np.array_equal(gaussian_noise(100, 1.0, rng), gaussian_noise(100, 1.0, rng))
    assert not np.array_equal(gaussian_noise(100, 1.0), gaussian_noise(100, 1.0))
    np.testing.assert_array_equal(gaussian_noise(5, 1.0, 3), np.random.default_rng(3).normal(0, 1.0, 5))


# --- Gumbel-max --------------------------------------------------------------------

SCORES = np.array([0.0, 1.0, 2.0, 0.5, -1.0, 3.0])


def _gumbel_pvalue(picks, scores, epsilon, sensitivity):
    logits = epsilon * scores / (2 * sensitivity)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    counts = np.bincount(picks, minlength=scores.size)
    return float(stats.chisquare(counts, p * len(picks)).pvalue)


@pytest.mark.parametrize("mode", ["seeded", "secure"])
def test_gumbel_max_matches_softmax(mode, rng):
    n = 20_000 if mode == "seeded" else 6_000
    src = rng if mode == "seeded" else "secure"
    picks = np.array([gumbel_max(SCORES, 1.0, 1.0, src) for _ in range(n)])
    assert _gumbel_pvalue(picks, SCORES, 1.0, 1.0) > ALPHA
    # power: the same test rejects a mechanism that forgot the factor 2
    assert _gumbel_pvalue(picks, SCORES, 2.0, 1.0) < ALPHA


def test_gumbel_max_redraws_ties(monkeypatch):
    calls = []

    def fake_uniform(n):
        calls.append(n)
        return np.full(n, 0.5) if len(calls) == 1 else np.linspace(0.1, 0.9, n)

    monkeypatch.setattr(_ext, "uniform_secure", fake_uniform)
    assert gumbel_max([1.0, 1.0, 1.0], 1.0, 1.0, "secure") == 2
    assert len(calls) == 2


def test_gumbel_max_returns_int(rng):
    out = gumbel_max(np.array([1, 2, 3]), 0.5, 2.0, rng)
    assert isinstance(out, int) and 0 <= out < 3
    assert gumbel_max([5.0], 1.0) == 0


# --- clip_scale_sum ----------------------------------------------------------------


def _assert_close_to_reference(g, w, c):
    got = clip_scale_sum(g, w, c)
    ref = clip_scale_sum_reference(g, w, c)
    scale = np.abs(np.asarray(g, dtype=np.float64)).sum(axis=0) + 1e-300
    assert got.dtype == np.float64 and got.shape == ref.shape
    assert np.all(np.abs(got - ref) <= 1e-12 * scale), np.max(np.abs(got - ref) / scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (33, 17), (300, 129), (1000, 3)])
def test_clip_scale_sum_matches_reference(dtype, shape, rng):
    g = (rng.standard_normal(shape) * rng.uniform(0.1, 3.0, size=(shape[0], 1))).astype(dtype)
    w = rng.uniform(0, 1, size=shape[0])
    for c in (0.5, 1.0, 100.0):
        _assert_close_to_reference(g, w, c)


def test_clip_scale_sum_two_pass_schedule(monkeypatch, rng):
    monkeypatch.setattr(aggregate, "_PARTIAL_BUDGET", 64)
    assert aggregate.plan_chunks(200, 3000) == 0
    g = rng.standard_normal((200, 3000)).astype(np.float32)
    w = rng.uniform(size=200)
    _assert_close_to_reference(g, w, 10.0)
    g[7, 3] = np.nan
    with pytest.raises(ValueError, match=r"must be finite. Got a NaN or inf in row 7 instead"):
        clip_scale_sum(g, w, 1.0)


def test_clip_scale_sum_edge_rows():
    c = 2.0
    g = np.array(
        [
            [0.0, 0.0, 0.0],  # zero row
            [2.0, 0.0, 0.0],  # norm exactly C
            [0.0, 1.2, 1.6],  # norm exactly C
            [30.0, 40.0, 0.0],  # clipped to C
            [1.0, 1.0, 1.0],  # weight 0
        ]
    )
    w = np.array([1.0, 1.0, 0.5, 0.25, 0.0])
    expected = np.array([2.0 + 0.25 * 1.2, 0.6 + 0.25 * 1.6, 0.8])
    for dtype in (np.float64, np.float32):
        np.testing.assert_allclose(clip_scale_sum(g.astype(dtype), w, c), expected, rtol=1e-7)
    np.testing.assert_array_equal(clip_scale_sum(g[:, :1], w, c), clip_scale_sum_reference(g[:, :1], w, c))
    np.testing.assert_array_equal(clip_scale_sum(np.zeros((0, 4)), np.zeros(0), 1.0), np.zeros(4))
    assert clip_scale_sum(np.zeros((3, 0)), np.ones(3), 1.0).shape == (0,)
    np.testing.assert_array_equal(clip_scale_sum(g, np.zeros(5), c), np.zeros(3))


def test_clip_scale_sum_huge_float64_rows():
    g = np.array([[1e200, 1e200], [-3e300, 4e300]])
    out = clip_scale_sum(g, [1.0, 1.0], 1.0)
    np.testing.assert_allclose(out, [math.sqrt(0.5) - 0.6, math.sqrt(0.5) + 0.8], rtol=1e-14)


def test_clip_scale_sum_dtype_table(rng):
    g = rng.standard_normal((5, 4))
    w = rng.uniform(size=5)
    ref = clip_scale_sum_reference(g, w, 1.0)
    np.testing.assert_allclose(clip_scale_sum(g.tolist(), list(w), 1.0), ref, rtol=1e-13)
    np.testing.assert_allclose(clip_scale_sum(np.asfortranarray(g), w, 1.0), ref, rtol=1e-13)
    gi = rng.integers(-3, 4, size=(5, 4))
    np.testing.assert_allclose(clip_scale_sum(gi, w, 1.0), clip_scale_sum_reference(gi, w, 1.0), rtol=1e-13)
    g16 = g.astype(np.float16)
    np.testing.assert_allclose(clip_scale_sum(g16, w, 1.0), clip_scale_sum_reference(g16, w, 1.0), rtol=1e-13)


def test_clip_scale_sum_deterministic_across_threads(rng):
    g = rng.standard_normal((2000, 300)).astype(np.float32)
    w = rng.uniform(size=2000)
    before = numba.get_num_threads()
    try:
        results = []
        for t in sorted({1, min(2, numba.config.NUMBA_NUM_THREADS)}):
            numba.set_num_threads(t)
            results.append(clip_scale_sum(g, w, 1.0))
    finally:
        numba.set_num_threads(before)
    for r in results[1:]:
        np.testing.assert_array_equal(results[0], r)


# --- noisy_weighted_mean ---------------------------------------------------------


def test_noisy_weighted_mean_is_sum_plus_noise_over_public_size(rng):
    g = rng.standard_normal((7, 50))
    w = rng.uniform(size=7)
    out = noisy_weighted_mean(g, w, 1.5, 0.8, 40.0, rng=11)
    expected = (clip_scale_sum_reference(g, w, 1.5) + np.random.default_rng(11).normal(0, 0.8 * 1.5, 50)) / 40.0
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("mode", ["seeded", "secure"])
def test_noisy_weighted_mean_noise_scale(mode, rng):
    p, sigma, c, ebs = 200_000, 1.3, 0.7, 25.0
    out = noisy_weighted_mean(np.zeros((2, p), np.float32), [1.0, 1.0], c, sigma, ebs,
                              rng if mode == "seeded" else "secure")
    sd = sigma * c / ebs
    assert _two_sided(out.mean() / (sd / math.sqrt(p))) > ALPHA
    assert _two_sided((np.mean(out * out) - sd**2) / (sd**2 * math.sqrt(2 / p))) > ALPHA
    assert _two_sided((np.mean(out * out) - (1.1 * sd) ** 2) / (sd**2 * math.sqrt(2 / p))) < ALPHA


# --- rng handling ------------------------------------------------------------------


def test_resolve_rng_modes():
    g = np.random.default_rng(0)
    assert resolve_rng(None) == "secure" and resolve_rng("secure") == "secure"
    assert resolve_rng(g) is g
    assert isinstance(resolve_rng(5), np.random.Generator)
    assert isinstance(resolve_rng(np.random.SeedSequence(5)), np.random.Generator)


def test_insecure_warning_once_per_process(monkeypatch):
    monkeypatch.setattr(mechanisms, "_insecure_warned", False)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        discrete_gaussian(3, 1.0, rng=0)
        gaussian_noise(3, 1.0, rng=np.random.default_rng(0))
        discrete_gaussian(3, 1.0)  # secure: never warns
    assert [r.category for r in rec] == [InsecureRandomnessWarning]
    assert "rng='secure'" in str(rec[0].message)


# --- error paths -------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad,err,msg",
    [
        ("insecure", InputTypeError, r"'rng' parameter of f must be None, 'secure', an int"),
        (1.5, InputTypeError, r"'rng' parameter of f must be None"),
        (True, InputTypeError, r"'rng' parameter of f must be None"),
        (np.random.RandomState(0), InputTypeError, r"Got RandomState"),
        (-1, ValueError, r"'rng' parameter of f must be a non-negative int seed. Got -1 instead."),
    ],
)
def test_resolve_rng_errors(bad, err, msg):
    with pytest.raises(err, match=msg):
        resolve_rng(bad, "f")


@pytest.mark.parametrize("fn", [gaussian_noise, discrete_gaussian])
@pytest.mark.parametrize(
    "sigma,err,msg",
    [
        (0.0, PrivacyParameterError, r"'sigma' parameter of \w+ must be a finite number in \(0.0, "),
        (-1.0, PrivacyParameterError, r"Got -1.0 instead"),
        (float("nan"), PrivacyParameterError, r"Got nan instead"),
        (float("inf"), PrivacyParameterError, r"Got inf instead"),
        ("1", InputTypeError, r"'sigma' parameter of \w+ must be a real number. Got '1' instead."),
    ],
)
def test_noise_sigma_errors(fn, sigma, err, msg):
    with pytest.raises(err, match=msg):
        fn(3, sigma, "secure")


def test_noise_shape_and_thread_errors():
    with pytest.raises(ValueError, match=r"'shape' parameter of gaussian_noise must have non-negative"):
        gaussian_noise(-1, 1.0)
    with pytest.raises(InputTypeError, match=r"'shape' parameter of discrete_gaussian must be an int or"):
        discrete_gaussian(2.5, 1.0)
    with pytest.raises(PrivacyParameterError, match=r"in \(0.0, 1073741824.0\]. Got 1073741825.0"):
        discrete_gaussian(3, 2.0**30 + 1)
    with pytest.raises(ValueError, match=r"'n_threads' parameter of discrete_gaussian must be an int in the range \[1, inf\). Got 0"):
        discrete_gaussian(3, 1.0, n_threads=0)
    with pytest.raises(InputTypeError, match=r"'n_threads' parameter of discrete_gaussian must be an int. Got 1.5"):
        discrete_gaussian(3, 1.0, n_threads=1.5)
    with pytest.raises(InputTypeError, match=r"'rng' parameter of discrete_gaussian"):
        discrete_gaussian(3, 1.0, rng="os")
    with pytest.raises(InputTypeError, match=r"'x' parameter of discrete_gaussian_pmf must be an array of ints"):
        discrete_gaussian_pmf([0.5], 1.0)
    with pytest.raises(PrivacyParameterError, match=r"'sigma' parameter of discrete_gaussian_pmf"):
        discrete_gaussian_pmf([0], 0.0)


@pytest.mark.parametrize(
    "kwargs,err,msg",
    [
        ({"scores": []}, ValueError, r"'scores' parameter of gumbel_max must have at least one entry"),
        ({"scores": [[1.0]]}, InputTypeError, r"must be a 1-d array of real numbers. Got dtype float64 with shape \(1, 1\)"),
        ({"scores": ["a"]}, InputTypeError, r"must be a 1-d array of real numbers"),
        ({"scores": [1.0, np.nan]}, ValueError, r"must be finite. Got a NaN or inf at index 1 instead"),
        ({"scores": [np.inf]}, ValueError, r"must be finite"),
        ({"epsilon": 0.0}, PrivacyParameterError, r"'epsilon' parameter of gumbel_max"),
        ({"sensitivity": -1.0}, PrivacyParameterError, r"'sensitivity' parameter of gumbel_max"),
        ({"scores": [1e308], "epsilon": 1e10}, ValueError, r"scaled scores of gumbel_max overflow"),
        ({"rng": "urandom"}, InputTypeError, r"'rng' parameter of gumbel_max"),
    ],
)
def test_gumbel_max_errors(kwargs, err, msg):
    args = {"scores": [1.0, 2.0], "epsilon": 1.0, "sensitivity": 1.0, "rng": "secure"} | kwargs
    with pytest.raises(err, match=msg):
        gumbel_max(**args)


@pytest.mark.parametrize("fn", ["clip_scale_sum", "noisy_weighted_mean"])
@pytest.mark.parametrize(
    "g,w,c,err,msg",
    [
        (np.ones(3), np.ones(3), 1.0, ValueError, r"must be 2-d \(B, p\). Got shape \(3,\) instead"),
        (np.ones((2, 2), complex), np.ones(2), 1.0, InputTypeError, r"must be a float32 or float64 array. Got dtype complex128"),
        (np.ones((2, 2), object), np.ones(2), 1.0, InputTypeError, r"Got dtype object"),
        (np.ones((2, 2), np.longdouble), np.ones(2), 1.0, InputTypeError, r"float32 or float64"),
        (np.ones((2, 2)), np.ones(3), 1.0, ValueError, r"'weights' parameter of \w+ must have shape \(B,\) = \(2,\) to match per_sample_grads. Got shape \(3,\)"),
        (np.ones((2, 2)), np.array([0.5, 1.5]), 1.0, ValueError, r"must lie in \[0, 1\]. Got 1.5 at index 1 instead"),
        (np.ones((2, 2)), np.array([-0.1, 1.0]), 1.0, ValueError, r"must lie in \[0, 1\]. Got -0.1 at index 0"),
        (np.ones((2, 2)), np.array([np.nan, 1.0]), 1.0, ValueError, r"must lie in \[0, 1\]. Got nan at index 0"),
        (np.ones((2, 2)), np.array(["a", "b"]), 1.0, InputTypeError, r"'weights' parameter of \w+ must be an array of real"),
        (np.ones((2, 2)), np.ones(2), 0.0, ValueError, r"'C' parameter of \w+ must be a finite number in \(0.0, inf\). Got 0.0"),
        (np.ones((2, 2)), np.ones(2), np.inf, ValueError, r"'C' parameter"),
        (np.array([[1.0, np.inf], [1.0, 1.0]]), np.ones(2), 1.0, ValueError, r"must be finite. Got a NaN or inf in row 0"),
        (np.array([[1.0, 1.0], [np.nan, 1.0]], np.float32), np.ones(2), 1.0, ValueError, r"in row 1 instead"),
    ],
)
def test_aggregation_errors(fn, g, w, c, err, msg):
    with pytest.raises(err, match=msg):
        if fn == "clip_scale_sum":
            clip_scale_sum(g, w, c)
        else:
            noisy_weighted_mean(g, w, c, 1.0, 10.0, "secure")


@pytest.mark.parametrize(
    "nm,ebs,rng_arg,err,msg",
    [
        (0.0, 10.0, None, PrivacyParameterError, r"'noise_multiplier' parameter of noisy_weighted_mean"),
        (float("nan"), 10.0, None, PrivacyParameterError, r"'noise_multiplier'"),
        (1.0, 0.0, None, ValueError, r"'expected_batch_size' parameter of noisy_weighted_mean must be a finite number in \(0.0, inf\)"),
        (1.0, 10.0, "fast", InputTypeError, r"'rng' parameter of noisy_weighted_mean"),
    ],
)
def test_noisy_weighted_mean_errors(nm, ebs, rng_arg, err, msg):
    with pytest.raises(err, match=msg):
        noisy_weighted_mean(np.ones((2, 2)), np.ones(2), 1.0, nm, ebs, rng_arg)
