"""Audits that catch broken privacy (issue 7).

Mechanism level: on a worst-case neighbouring pair, the empirical epsilon lower
bound (Clopper-Pearson, 95%) stays at or below redp's per-record claim for
w in {1, 0.5, 0.2}, and a deliberately broken build (noise scaled by 0.5, or
weights ignored in the sensitivity) is caught in at least 9 of 10 runs.

The noise standard deviation is set to ``sigma = w / mu`` with ``mu = 1`` so
that every audited record has the same claimed mu (about 4.7 at delta = 1e-5):
the regime where a 10^6-trial threshold audit has power. (With one sigma for
all weights the w = 1 claim would sit far above what 10^6 trials can resolve,
about log(10^6) = 14, and the w = 0.2 claim far below, where doubling mu moves
the optimal test too little.)
"""

import math
import warnings

import numpy as np
import pytest

import redp
import redp._kernels.histogram as histogram
import redp.mechanisms as mechanisms
from redp.audit import mechanism_audit as MA
from redp.errors import InputTypeError, PrivacyParameterError

pytestmark = pytest.mark.filterwarnings("ignore::redp.errors.InsecureRandomnessWarning")

DELTA = 1e-5
MU = 1.0
WEIGHTS = [1.0, 0.5, 0.2]


def _seeds(rng, k):
    return [int(s) for s in rng.integers(0, 2**31, size=k)]


# --- broken builds (monkeypatched into the library's own functions) -----------------


@pytest.fixture
def half_noise(monkeypatch):
    """A build whose Gaussian noise is half what the accountant assumes."""
    orig = mechanisms.gaussian_noise

    def broken(shape, sigma, rng=None):
        return orig(shape, 0.5 * sigma, rng)

    monkeypatch.setattr(mechanisms, "gaussian_noise", broken)


@pytest.fixture
def weights_ignored(monkeypatch):
    """A build that adds every record at weight 1 while claiming its w-scaled epsilon."""
    orig_hist = histogram.weighted_bincount
    orig_sum = mechanisms.clip_scale_sum

    def broken_hist(codes, weights, n_cells):
        return orig_hist(codes, np.ones_like(np.asarray(weights, dtype=np.float64)), n_cells)

    def broken_sum(per_sample_grads, weights, C):
        return orig_sum(per_sample_grads, np.ones(len(weights)), C)

    monkeypatch.setattr(histogram, "weighted_bincount", broken_hist)
    monkeypatch.setattr(mechanisms, "clip_scale_sum", broken_sum)


# --- the generic audit --------------------------------------------------------------


def test_audit_scores_is_sound_and_has_power(rng):
    # N(0,1) vs N(2,1): the true epsilon at delta=1e-5 is that of mu=2 GDP
    from redp.accounting import delta_for_gaussian

    s0, s1 = rng.normal(size=400_000), rng.normal(2.0, size=400_000)
    res = MA.audit_scores(s0, s1, delta=DELTA, rng=1)
    # the true curve: delta_for_gaussian(eps, sigma=0.5) with sensitivity 1 is mu = 2
    true_eps = next(e for e in np.arange(0.0, 20.0, 0.01) if delta_for_gaussian(e, 0.5) <= DELTA)
    assert 4.0 < res.epsilon_lb <= true_eps
    assert res.side == 1 and sum(res.counts) == 400_000
    # the mirrored problem picks the other side and gives the same kind of bound
    res2 = MA.audit_scores(-s0, -s1, delta=DELTA, rng=1)
    assert res2.side == -1 and 4.0 < res2.epsilon_lb <= true_eps


def test_audit_scores_identical_worlds_give_small_bound(rng):
    s = rng.normal(size=(2, 200_000))
    res = MA.audit_scores(s[0], s[1], delta=DELTA, claimed_epsilon=0.1, rng=2)
    assert res.epsilon_lb <= 0.1 and not res.violated


def test_audit_scores_rejects_bad_input():
    with pytest.raises(InputTypeError, match="'scores_out' parameter of audit_scores must be an array of real"):
        MA.audit_scores(np.array(["a"] * 10), np.zeros(10))
    with pytest.raises(ValueError, match="'scores_in' parameter of audit_scores must be finite"):
        MA.audit_scores(np.zeros(10), np.r_[np.zeros(9), np.nan])
    with pytest.raises(ValueError, match="needs at least 4 scores"):
        MA.audit_scores(np.zeros(3), np.zeros(10))
    with pytest.raises(PrivacyParameterError, match="'delta' parameter of audit_scores"):
        MA.audit_scores(np.zeros(10), np.zeros(10), delta=1.0)
    with pytest.raises(ValueError, match="'weight' parameter of audit_gaussian_measurement"):
        MA.audit_gaussian_measurement(0.0, 1.0, DELTA)
    with pytest.raises(PrivacyParameterError, match="'sigma' parameter of audit_gaussian_measurement"):
        MA.audit_gaussian_measurement(1.0, -1.0, DELTA)
    with pytest.raises(PrivacyParameterError, match="'sample_rate' parameter of audit_dpsgd_step"):
        MA.audit_dpsgd_step(1.0, 1.0, DELTA, sample_rate=1.5)


# --- the audited mechanisms are redp's own ------------------------------------------


def test_measurement_trials_are_weighted_count_plus_library_noise():
    w = 0.3
    out0, out1, direction = MA._measurement_trials(w, 2.0, 5, 4, np.random.default_rng(3))
    noise = mechanisms.gaussian_noise((10, 2), 2.0, np.random.default_rng(3))
    np.testing.assert_array_equal(out0, np.array([0.0, 4.0]) + noise[:5])
    np.testing.assert_array_equal(out1, np.array([w, 4.0]) + noise[5:])
    np.testing.assert_array_equal(direction, [w, 0.0])


def test_dpsgd_trials_match_noisy_weighted_mean():
    """Each vectorised trial (q = 1) equals one call of mechanisms.noisy_weighted_mean."""
    w, sigma, C, n_others, dim, k = 0.4, 0.7, 2.0, 3, 2, 4
    out0, out1, _ = MA._dpsgd_trials(w, sigma, C, 1.0, k, dim, n_others, 10, np.random.default_rng(5), None)
    g = np.zeros((n_others + 1, dim))
    g[-1, 0] = 10 * C
    wts = np.r_[np.ones(n_others), w]
    gen = np.random.default_rng(5)
    ref0 = [mechanisms.noisy_weighted_mean(g[:-1], wts[:-1], C, sigma, 10.0, gen) for _ in range(k)]
    ref1 = [mechanisms.noisy_weighted_mean(g, wts, C, sigma, 10.0, gen) for _ in range(k)]
    np.testing.assert_allclose(out0, ref0, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out1, ref1, rtol=1e-12, atol=1e-15)


def test_claims_are_redps_per_record_epsilons():
    res = MA.audit_gaussian_measurement(0.5, 0.5, DELTA, n_trials=1000, rng=0)
    assert res.claimed_epsilon == pytest.approx(redp.accounting.zcdp_to_epsilon(0.5, DELTA), rel=1e-12)
    res = MA.audit_dpsgd_step(0.5, 0.5, DELTA, n_trials=1000, sample_rate=0.5, rng=0)
    from redp.synth.dpsgd import WeightedDPSGD

    opt = WeightedDPSGD(0.5, 1.0, 0.5, 10, rng=0)
    opt.steps = 1
    assert res.claimed_epsilon == pytest.approx(float(opt.per_record_epsilon([0.5], DELTA)[0]), rel=1e-12)


def test_audit_is_reproducible():
    a = MA.audit_dpsgd_step(0.5, 0.5, DELTA, n_trials=20_000, sample_rate=0.5, rng=11)
    b = MA.audit_dpsgd_step(0.5, 0.5, DELTA, n_trials=20_000, sample_rate=0.5, rng=11)
    assert a == b


# --- sound: correct builds stay below their claims ----------------------------------


@pytest.mark.parametrize("w", WEIGHTS)
def test_gaussian_measurement_bound_at_most_claim(w, rng):
    res = MA.audit_gaussian_measurement(w, w / MU, DELTA, rng=_seeds(rng, 1)[0])
    assert res.epsilon_lb <= res.claimed_epsilon, res
    assert res.epsilon_lb > 0.5 * res.claimed_epsilon  # power: the audit is not vacuous


@pytest.mark.parametrize("w", WEIGHTS)
@pytest.mark.parametrize("q", [1.0, 0.5])
def test_dpsgd_step_bound_at_most_claim(w, q, rng):
    res = MA.audit_dpsgd_step(w, w / MU, DELTA, sample_rate=q, rng=_seeds(rng, 1)[0])
    assert res.epsilon_lb <= res.claimed_epsilon, res
    assert res.epsilon_lb > 0.3 * res.claimed_epsilon


def test_one_sigma_for_all_weights_bounds_fall_with_weight(rng):
    """One mechanism (sigma fixed), three records: claims and empirical bounds both fall with w."""
    seed = _seeds(rng, 1)[0]
    res = [MA.audit_gaussian_measurement(w, 1.0, DELTA, n_trials=300_000, rng=seed) for w in WEIGHTS]
    claims = [r.claimed_epsilon for r in res]
    lbs = [r.epsilon_lb for r in res]
    assert all(lb <= c for lb, c in zip(lbs, claims))
    assert claims[0] > claims[1] > claims[2]
    assert lbs[0] > lbs[1] > lbs[2]


# --- broken builds are caught --------------------------------------------------------


def _caught(audit, seeds):
    results = [audit(s) for s in seeds]
    return sum(r.violated for r in results), results


def test_half_noise_caught_in_gaussian_measurement(half_noise, rng):
    n, res = _caught(lambda s: MA.audit_gaussian_measurement(0.5, 0.5 / MU, DELTA, rng=s), _seeds(rng, 10))
    assert n >= 9, [(r.epsilon_lb, r.claimed_epsilon) for r in res]


def test_half_noise_caught_in_dpsgd_step(half_noise, rng):
    n, res = _caught(lambda s: MA.audit_dpsgd_step(0.2, 0.2 / MU, DELTA, sample_rate=0.5, rng=s), _seeds(rng, 10))
    assert n >= 9, [(r.epsilon_lb, r.claimed_epsilon) for r in res]


@pytest.mark.parametrize("w, n_trials", [(0.5, 1_000_000), (0.2, 200_000)])
def test_weights_ignored_caught_in_gaussian_measurement(weights_ignored, w, n_trials, rng):
    n, res = _caught(lambda s: MA.audit_gaussian_measurement(w, w / MU, DELTA, n_trials=n_trials, rng=s),
                     _seeds(rng, 10))
    assert n >= 9, [(r.epsilon_lb, r.claimed_epsilon) for r in res]


@pytest.mark.parametrize("w, n_trials", [(0.5, 1_000_000), (0.2, 200_000)])
def test_weights_ignored_caught_in_dpsgd_step(weights_ignored, w, n_trials, rng):
    n, res = _caught(lambda s: MA.audit_dpsgd_step(w, w / MU, DELTA, sample_rate=0.5, n_trials=n_trials, rng=s),
                     _seeds(rng, 10))
    assert n >= 9, [(r.epsilon_lb, r.claimed_epsilon) for r in res]


def test_correct_build_is_not_flagged_in_ten_runs(rng):
    """The other side of the 9-of-10 test: the same protocol on the correct build flags nothing."""
    n, res = _caught(lambda s: MA.audit_gaussian_measurement(0.5, 0.5 / MU, DELTA, n_trials=300_000, rng=s),
                     _seeds(rng, 10))
    assert n == 0, [(r.epsilon_lb, r.claimed_epsilon) for r in res]


@pytest.mark.slow
@pytest.mark.parametrize("w", WEIGHTS)
@pytest.mark.parametrize("mechanism", ["measurement", "dpsgd"])
def test_full_grid_of_broken_builds(w, mechanism, rng, monkeypatch):
    """Every weight, both mechanisms, both bugs (weights-ignored is a no-op at w = 1)."""
    audit = (lambda s: MA.audit_gaussian_measurement(w, w / MU, DELTA, rng=s)) if mechanism == "measurement" \
        else (lambda s: MA.audit_dpsgd_step(w, w / MU, DELTA, sample_rate=0.5, rng=s))
    orig = mechanisms.gaussian_noise
    monkeypatch.setattr(mechanisms, "gaussian_noise", lambda shape, sigma, rng=None: orig(shape, 0.5 * sigma, rng))
    assert _caught(audit, _seeds(rng, 10))[0] >= 9
    monkeypatch.undo()
    if w < 1.0:
        oh, osum = histogram.weighted_bincount, mechanisms.clip_scale_sum
        monkeypatch.setattr(histogram, "weighted_bincount", lambda c, wt, n: oh(c, np.ones(len(wt)), n))
        monkeypatch.setattr(mechanisms, "clip_scale_sum", lambda g, wt, C: osum(g, np.ones(len(wt)), C))
        assert _caught(audit, _seeds(rng, 10))[0] >= 9


# --- end to end: one planted outlier, REPS fitted again and again ---------------------


def _e2e_scores(weight_of_outlier, n_runs, seed):
    """Membership statistic of the planted outlier over repeated REPS fits with / without it.

    The data: 40 records in the lower half of x, one planted outlier in the top bin.
    The statistic: the share of 2,000 synthetic rows in the top bin.
    """
    schema = redp.Schema({"x": redp.Continuous(0.0, 1.0, bins=8)})
    g = np.random.default_rng(seed)
    bulk = g.uniform(0.0, 0.5, 40)
    with_outlier = {"x": np.r_[bulk, 0.97]}
    without = {"x": bulk}

    def weighting(scores, tau):  # an oracle map: the planted outlier (the last record) gets the weight under test
        w = np.ones_like(scores)
        if scores.size == 41:
            w[-1] = weight_of_outlier
        return w

    stats, claim = {0: [], 1: []}, 0.0
    seeds = g.integers(0, 2**31, size=(2, n_runs))
    for world, data in ((0, without), (1, with_outlier)):
        for s in seeds[world]:
            model = redp.REPS(epsilon=8.0, delta=1e-5, schema=schema, weighting=weighting, w_min=0.2,
                              n_reference=50, k=2, score_fraction=0.01, rng=int(s))
            syn = model.fit(data).sample(2000)
            stats[world].append(float(np.mean(syn["x"] >= 0.875)))
            if world == 1:  # the outlier is the last record
                claim = max(claim, float(model.privacy_report().per_record_epsilon[-1]))
    return np.array(stats[0]), np.array(stats[1]), claim


@pytest.mark.slow
def test_end_to_end_bound_falls_when_outlier_weight_falls():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lbs, claims = {}, {}
        for w in (1.0, 0.5, 0.2):
            s0, s1, claims[w] = _e2e_scores(w, n_runs=400, seed=7)
            lbs[w] = MA.audit_scores(s0, s1, delta=1e-5, rng=0).epsilon_lb
    assert all(lbs[w] <= claims[w] for w in lbs), (lbs, claims)
    assert claims[1.0] > claims[0.5] > claims[0.2]
    assert lbs[1.0] > lbs[0.5] >= lbs[0.2] and lbs[1.0] > lbs[0.2] + 0.3, lbs
    assert math.isfinite(lbs[1.0])
