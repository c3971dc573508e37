import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve as sk_roc_curve

from redp.audit import AttackReport, advantage, attack_report, roc_auc, roc_curve, tpr_at_fpr
from redp.errors import InputTypeError


def _tied_case(rng, n=300):
    y = rng.integers(0, 2, n)
    s = rng.integers(0, 8, n) + y * rng.integers(0, 3, n)  # many ties
    return s.astype(float), y


@pytest.mark.parametrize("trial", range(5))
def test_roc_auc_and_curve_match_sklearn_with_ties(rng, trial):
    s, y = _tied_case(rng)
    assert roc_auc(s, y) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, thr = roc_curve(s, y)
    f2, t2, th2 = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, f2)
    np.testing.assert_allclose(tpr, t2)
    np.testing.assert_allclose(thr[1:], th2[1:])


@pytest.mark.parametrize("trial", range(3))
def test_tpr_at_fpr_and_advantage_match_sklearn_curve(rng, trial):
    s, y = _tied_case(rng, 2000) if trial else (rng.normal(size=3000), rng.integers(0, 2, 3000))
    f2, t2, _ = sk_roc_curve(y, s, drop_intermediate=False)
    levels = [0.0, 0.001, 0.01, 0.1, 0.5, 1.0]
    got = tpr_at_fpr(s, y, levels)
    expected = [t2[f2 <= a].max() for a in levels]
    np.testing.assert_allclose(got, expected)
    assert isinstance(tpr_at_fpr(s, y, 0.01), float)
    assert advantage(s, y) == pytest.approx(np.max(t2 - f2))


def test_metrics_on_perfect_and_reversed_scores():
    y = np.array([1, 1, 0, 0])
    assert roc_auc([4, 3, 2, 1], y) == 1.0 and roc_auc([1, 2, 3, 4], y) == 0.0
    assert advantage([4, 3, 2, 1], y) == 1.0 and advantage([1, 2, 3, 4], y) == 0.0
    assert tpr_at_fpr([4, 3, 2, 1], y, 0.0) == 1.0


def test_metric_input_errors():
    with pytest.raises(ValueError, match="roc_auc needs both members and non-members. Got 2 and 0."):
        roc_auc([1, 2], [1, 1])
    with pytest.raises(InputTypeError, match="The 'labels' parameter of advantage must contain only 0/1 or bool"):
        advantage([1, 2], [1, 2])
    with pytest.raises(ValueError, match="The 'scores' parameter of tpr_at_fpr must be finite"):
        tpr_at_fpr([np.nan, 1], [0, 1], 0.1)
    with pytest.raises(ValueError, match=r"The 'fpr' parameter of tpr_at_fpr must be a number or 1-D sequence in \[0, 1\]"):
        tpr_at_fpr([0, 1], [0, 1], 2.0)
    with pytest.raises(ValueError, match=r"The 'labels' parameter of roc_auc must have the shape of scores \(2,\)"):
        roc_auc([0, 1], [0, 1, 1])


def test_attack_report_overall_and_deciles(rng):
    n = 2000
    y = rng.permutation(np.repeat([1, 0], n // 2))
    oracle = rng.random(n)
    s = rng.normal(size=n) + y * 4.0 * (oracle > 0.9)  # only the top decile leaks
    rep = attack_report(s, y, oracle, n_bootstrap=100, rng=rng)
    assert isinstance(rep, AttackReport)
    assert rep.groups == ("all",) + tuple(range(1, 11))
    assert rep.n_members[0] == n // 2 and rep.n_members[1:].sum() == n // 2
    assert (rep.n_members[1:] + rep.n_nonmembers[1:]).tolist() == [n // 10] * 10
    assert rep.overall("auc")[0] == pytest.approx(roc_auc(s, y))
    assert rep.overall("tpr@0.01")[0] == pytest.approx(tpr_at_fpr(s, y, 0.01))
    assert rep.overall("advantage")[0] == pytest.approx(advantage(s, y))
    top, lo, hi = rep.top_decile("auc")
    assert top > 0.95 and lo <= top <= hi
    assert np.all(np.abs(rep.by_decile("auc")[:-1] - 0.5) < 0.15)
    assert np.all(rep.ci_low <= rep.value + 1e-12) and np.all(rep.value <= rep.ci_high + 1e-12)
    # the top decile holds the largest oracle values
    assert rep.edges[-2] <= np.sort(oracle)[-n // 10] <= rep.edges[-1]
    records = rep.to_records()
    assert len(records) == 11 and records[-1]["group"] == 10 and "auc_lo" in records[0]


def test_attack_report_determinism_and_no_bootstrap(rng):
    y = np.repeat([1, 0], 100)
    s, o = rng.normal(size=200), rng.random(200)
    a = attack_report(s, y, o, n_bootstrap=30, rng=3)
    b = attack_report(s, y, o, n_bootstrap=30, rng=3)
    np.testing.assert_array_equal(a.ci_low, b.ci_low)
    c = attack_report(s, y, o, n_bootstrap=0, n_deciles=4)
    assert np.all(np.isnan(c.ci_low)) and c.value.shape == (5, 4)
    with pytest.raises(ValueError, match="Unknown metric 'x'"):
        c.overall("x")
    with pytest.raises(ValueError, match="The 'oracle_outlierness' parameter of attack_report must be finite"):
        attack_report(s, y, o[:10])


def test_vectorised_bootstrap_equals_resampled_metrics(rng):
    from redp.audit.metrics import _all_metrics, _bootstrap_counts, _weighted_metrics

    s = rng.integers(0, 15, 250).astype(float)  # ties
    y = rng.integers(0, 2, 250).astype(bool)
    W = _bootstrap_counts(rng, 250, 30)
    assert W.sum(axis=1).tolist() == [250] * 30
    got = _weighted_metrics(s, y, W.copy(), (0.01, 0.1))
    expected = np.array([_all_metrics(np.repeat(s, w), np.repeat(y, w), (0.01, 0.1)) for w in W])
    np.testing.assert_allclose(got, expected, atol=1e-12)
