import numpy as np
import pytest
from scipy.spatial.distance import cdist

from redp.audit import dcr, density_ratio, roc_auc, run_attacks
from redp.errors import InputTypeError
from redp.schema import Categorical, Continuous, Schema


def _population(rng, n, d=4):
    return rng.normal(size=(n, d)).astype(np.float32)


@pytest.fixture
def split(rng):
    pop = _population(rng, 1500)
    return pop[:400], pop[400:800], pop[800:]  # members, non-members, reference


def test_dcr_matches_brute_force(rng):
    T = rng.normal(size=(50, 3))
    S = rng.normal(size=(80, 3))
    expected = -cdist(T, S).min(axis=1)
    np.testing.assert_allclose(dcr(T, S), expected, rtol=1e-5, atol=1e-5)
    assert dcr(T, S).dtype == np.float64


def test_dcr_copy_gives_auc_near_one_and_independent_near_half(rng, split):
    members, non_members, reference = split
    targets = np.vstack([members, non_members])
    labels = np.repeat([1, 0], [len(members), len(non_members)])
    copy = members + rng.normal(scale=1e-3, size=members.shape).astype(np.float32)
    assert roc_auc(dcr(targets, copy), labels) > 0.99
    independent = _population(rng, 400)
    assert abs(roc_auc(dcr(targets, independent), labels) - 0.5) < 0.07


def test_density_ratio_copy_gives_auc_near_one_and_independent_near_half(rng, split):
    members, non_members, reference = split
    targets = np.vstack([members, non_members])
    labels = np.repeat([1, 0], [len(members), len(non_members)])
    copy = members + rng.normal(scale=1e-3, size=members.shape).astype(np.float32)
    assert roc_auc(density_ratio(targets, copy, reference, k=1), labels) > 0.99
    # a generator that overfits: 5 jittered copies of every member, seen at k = 5
    overfit = np.repeat(members, 5, axis=0) + rng.normal(scale=0.05, size=(5 * len(members), 4)).astype(np.float32)
    assert roc_auc(density_ratio(targets, overfit, reference, k=5), labels) > 0.97
    independent = _population(rng, 400)
    for k in (1, 5):
        assert abs(roc_auc(density_ratio(targets, independent, reference, k=k), labels) - 0.5) < 0.07


def test_density_ratio_formula_with_duplicates(rng):
    T = rng.normal(size=(30, 2))
    S = np.vstack([T[:5], rng.normal(size=(40, 2))])  # exact copies -> r = 0 -> floor
    R = rng.normal(size=(60, 2))
    k = 3
    r_s = np.maximum(np.sort(cdist(T, S), axis=1)[:, k - 1], 1e-6)
    r_r = np.maximum(np.sort(cdist(T, R), axis=1)[:, k - 1], 1e-6)
    expected = 2 * (np.log(r_r) - np.log(r_s)) + np.log(60) - np.log(45)
    got = density_ratio(T, S, R, k=k)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3)
    assert np.all(np.isfinite(got))
    # k = 1: the copied targets sit on the floor and get the largest scores
    s1 = density_ratio(T, S, R, k=1)
    assert set(np.argsort(s1)[-5:]) == set(range(5))


def test_density_ratio_dim_only_rescales(rng):
    T, S, R = rng.normal(size=(20, 3)), rng.normal(size=(50, 3)), rng.normal(size=(70, 3))
    a = density_ratio(T, S, R, k=2)
    b = density_ratio(T, S, R, k=2, dim=1.5)
    const = np.log(70) - np.log(50)
    np.testing.assert_allclose((a - const) / 3.0, (b - const) / 1.5, rtol=1e-6, atol=1e-9)


def test_attack_input_errors(rng):
    T = rng.normal(size=(5, 3))
    with pytest.raises(ValueError, match="The 'synthetic' parameter of dcr must have 3 columns like 'targets'. Got 2 instead."):
        dcr(T, rng.normal(size=(4, 2)))
    with pytest.raises(ValueError, match=r"The 'k' parameter of density_ratio must be an int in the range \[1, 4\]. Got 5 instead."):
        density_ratio(T, rng.normal(size=(4, 3)), rng.normal(size=(9, 3)), k=5)
    with pytest.raises(InputTypeError, match="The 'targets' parameter of dcr must be a numeric"):
        dcr(np.array([["a", "b"]]), T)
    with pytest.raises(ValueError, match="The 'targets' parameter of dcr must be a non-empty 2-D array"):
        dcr(np.zeros(3), T)
    with pytest.raises(ValueError, match="The 'synthetic' parameter of dcr must be finite"):
        dcr(T, np.full((2, 3), np.nan))


def test_run_attacks_on_tables_matches_encoded(rng):
    sc = Schema({"x": Continuous(0, 10), "c": Categorical(["a", "b", "c"]), "z": Continuous(-1, 1)})

    def table(n):
        return {"x": rng.uniform(0, 10, n), "c": rng.choice(["a", "b", "c"], n), "z": rng.uniform(-1, 1, n)}

    T, S, R = table(30), table(50), table(60)
    out = run_attacks(sc, T, S, R, k=3)
    eT, eS, eR = (sc.encode_distance(t) for t in (T, S, R))
    np.testing.assert_allclose(out["dcr"], dcr(eT, eS))
    np.testing.assert_allclose(out["density_ratio"], density_ratio(eT, eS, eR, k=3))
    with pytest.raises(ValueError, match="The 'density_ratio' attack of run_attacks needs a 'reference' table"):
        run_attacks(sc, T, S)
    with pytest.raises(ValueError, match="The 'attacks' parameter of run_attacks must be a non-empty subset"):
        run_attacks(sc, T, S, R, attacks=["lira"])
