import math

import numpy as np
import pytest
from scipy import special, stats
from scipy.optimize import brentq

from redp.audit import beta_ppf, betainc, clopper_pearson, epsilon_from_scores, epsilon_lower_bound


def test_betainc_matches_scipy(rng):
    for _ in range(300):
        a, b = np.exp(rng.uniform(-2, np.log(2e5), 2))
        x = rng.uniform()
        assert betainc(a, b, x) == pytest.approx(special.betainc(a, b, x), rel=1e-9, abs=1e-300)


def test_beta_ppf_matches_scipy(rng):
    for _ in range(300):
        a, b = np.exp(rng.uniform(-2, np.log(1e6), 2))
        q = float(rng.choice([rng.uniform(), 10 ** rng.uniform(-10, -1), 1 - 10 ** rng.uniform(-8, -1)]))
        assert beta_ppf(q, a, b) == pytest.approx(stats.beta.ppf(q, a, b), rel=1e-7, abs=1e-300)
    assert beta_ppf(0.0, 2.0, 3.0) == 0.0 and beta_ppf(1.0, 2.0, 3.0) == 1.0


@pytest.mark.parametrize("n", [1, 7, 100, 2500, 10**6])
def test_clopper_pearson_matches_scipy(rng, n):
    for k in sorted({0, 1, n // 3, n - 1, n, int(rng.integers(0, n + 1))}):
        if k < 0:
            continue
        for conf in (0.9, 0.95, 0.999):
            lo, hi = clopper_pearson(k, n, conf)
            alpha = 1 - conf
            ref_lo = 0.0 if k == 0 else stats.beta.ppf(alpha / 2, k, n - k + 1)
            ref_hi = 1.0 if k == n else stats.beta.ppf(1 - alpha / 2, k + 1, n - k)
            assert lo == pytest.approx(ref_lo, rel=1e-8, abs=1e-300)
            assert hi == pytest.approx(ref_hi, rel=1e-8, abs=1e-300)
            if n <= 2500:  # binomtest inverts the binomial CDF numerically: imprecise at n = 1e6
                ref = stats.binomtest(k, n).proportion_ci(confidence_level=conf, method="exact")
                assert (lo, hi) == pytest.approx((ref.low, ref.high), rel=1e-6, abs=1e-300)


def test_bound_input_errors():
    with pytest.raises(ValueError, match="The 'k' parameter of clopper_pearson must be <= n = 3. Got 4 instead."):
        clopper_pearson(4, 3)
    with pytest.raises(ValueError, match="epsilon_lower_bound needs at least one member and one non-member"):
        epsilon_lower_bound(0, 0, 1, 1)
    with pytest.raises(ValueError, match=r"The 'delta' parameter of epsilon_lower_bound must be a finite number in \[0.0, 1.0\)"):
        epsilon_lower_bound(1, 1, 1, 1, delta=1.0)
    with pytest.raises(ValueError, match=r"The 'q' parameter of beta_ppf must be a finite number in \[0.0, 1.0\]"):
        beta_ppf(1.5, 1, 1)


def test_epsilon_lower_bound_basic_properties():
    assert epsilon_lower_bound(500, 500, 500, 500) == 0.0
    e1 = epsilon_lower_bound(900, 100, 100, 900)
    e2 = epsilon_lower_bound(9000, 1000, 1000, 9000)
    assert 0 < e1 < e2 < math.log(9)  # more trials -> tighter, never above the point estimate
    assert epsilon_lower_bound(900, 100, 100, 900, delta=0.1) < e1
    # the symmetric form: few false negatives, many false positives
    assert epsilon_lower_bound(999, 1, 500, 500) > 0.0


# --- simulated audits of the Gaussian mechanism (sensitivity 1, noise sigma) -----------------


def gaussian_true_epsilon(sigma, delta):
    """Exact epsilon of N(0, sigma^2) vs N(1, sigma^2) at delta (Balle and Wang 2018)."""

    def delta_of(eps):
        return stats.norm.cdf(-eps * sigma + 0.5 / sigma) - math.exp(eps) * stats.norm.cdf(-eps * sigma - 0.5 / sigma)

    return brentq(lambda e: delta_of(e) - delta, 0.0, 100.0)


DELTA = 1e-5


def test_calibrated_gaussian_never_exceeded_and_cp_coverage(rng):
    sigma = 1.0
    eps_true = gaussian_true_epsilon(sigma, DELTA)
    # one large audit, thresholds fixed in advance
    n = 200_000
    out_d = rng.normal(0.0, sigma, n)  # M(D): record absent
    out_d1 = rng.normal(1.0, sigma, n)  # M(D'): record present
    for t in (0.5, 1.5, 2.5, 3.5, 4.5):
        tp, fp = int((out_d1 >= t).sum()), int((out_d >= t).sum())
        lb = epsilon_lower_bound(tp, n - tp, fp, n - fp, delta=DELTA)
        assert lb <= eps_true
    # coverage: at a fixed threshold the bound exceeds the population value of
    # that test in at most ~5% of audits (plug-in rates would fail ~half the time)
    t, m, reps = 2.0, 2000, 400
    tpr, fpr = stats.norm.sf(t - 1.0, scale=sigma), stats.norm.sf(t, scale=sigma)
    pop = max(math.log((tpr - DELTA) / fpr), math.log((1 - fpr - DELTA) / (1 - tpr)))
    tps, fps = rng.binomial(m, tpr, reps), rng.binomial(m, fpr, reps)
    lbs = np.array([epsilon_lower_bound(a, m - a, b, m - b, delta=DELTA) for a, b in zip(tps, fps)])
    assert np.mean(lbs > pop) <= 0.06
    assert np.mean(lbs > 0.6 * pop) > 0.5  # and the bound is not vacuous


def test_broken_gaussian_is_caught(rng):
    sigma_claimed = 2.0
    eps_claimed = gaussian_true_epsilon(sigma_claimed, DELTA)
    sigma_used = sigma_claimed / 2  # bug: noise halved
    n = 200_000
    out_d = rng.normal(0.0, sigma_used, n)
    out_d1 = rng.normal(1.0, sigma_used, n)
    t = 3.0  # fixed before the audit
    tp, fp = int((out_d1 >= t).sum()), int((out_d >= t).sum())
    assert epsilon_lower_bound(tp, n - tp, fp, n - fp, delta=DELTA) > eps_claimed
    # same audit through the score interface (threshold chosen on a held-out half)
    scores = np.r_[out_d1[:50_000], out_d[:50_000]]
    labels = np.repeat([1, 0], 50_000)
    assert epsilon_from_scores(scores, labels, delta=DELTA, rng=rng) > eps_claimed
    # and a correctly calibrated mechanism passes the same audit
    ok = np.r_[rng.normal(1.0, sigma_claimed, 50_000), rng.normal(0.0, sigma_claimed, 50_000)]
    assert epsilon_from_scores(ok, labels, delta=DELTA, rng=rng) <= eps_claimed
