import numpy as np
import pytest

import redp
from redp.datasets import simulate
from redp.errors import NotFittedError, PrivacyParameterError


@pytest.fixture(scope="module")
def sim():
    table, schema, is_outlier = simulate(3000, rng=11)
    return table, schema, is_outlier


def _fit(sim, **kw):
    table, schema, _ = sim
    args = dict(epsilon=3.0, delta=1e-6, schema=schema, rng=5, n_reference=1000)
    args.update(kw)
    return redp.REPS(**args).fit(table)


def test_per_record_rho_closed_form(sim):
    from redp.accounting import zcdp_to_epsilon

    model = _fit(sim)
    r = model.privacy_report()
    w = np.ceil(r.weights * 256) / 256  # the ledger rounds weights up to the public grid
    for i in np.flatnonzero(r.weights < 1)[:5].tolist() + [int(np.argmax(r.weights))]:
        rho_i = r.rho_scoring + w[i] ** 2 * r.rho_synthesis
        assert r.per_record_epsilon[i] == pytest.approx(zcdp_to_epsilon(rho_i, 1e-6), rel=1e-9)
    assert r.rho_scoring + r.rho_synthesis <= r.rho_total * (1 + 1e-12)
    assert r.epsilon <= 3.0 + 1e-9
    assert r.per_record_epsilon.max() <= r.epsilon + 1e-9


def test_uniform_every_record_gets_global_epsilon(sim):
    r = _fit(sim, weighting="uniform").privacy_report()
    np.testing.assert_allclose(r.per_record_epsilon, r.epsilon, rtol=1e-12)
    assert r.rho_scoring == 0.0


def test_outliers_get_smaller_weights(sim):
    _, _, is_outlier = sim
    r = _fit(sim).privacy_report()
    assert r.weights[is_outlier].mean() < r.weights[~is_outlier].mean() - 0.2
    assert r.per_record_epsilon[is_outlier].mean() < r.epsilon


def test_random_weighting_is_same_multiset(sim):
    a = _fit(sim).privacy_report()
    b = _fit(sim, weighting="random").privacy_report()
    assert np.array_equal(np.sort(a.weights), np.sort(b.weights))
    assert not np.array_equal(a.weights, b.weights)


def test_same_seed_same_output(sim):
    a, b = _fit(sim), _fit(sim)
    sa, sb = a.sample(500), b.sample(500)
    for c in sa:
        assert np.array_equal(sa[c], sb[c])
    assert np.array_equal(a.privacy_report().weights, b.privacy_report().weights)


def test_sample_matches_input_kind(sim):
    pd = pytest.importorskip("pandas")
    table, schema, _ = sim
    df = pd.DataFrame(table)
    model = redp.REPS(epsilon=2.0, delta=1e-6, schema=schema, rng=1, n_reference=500).fit(df)
    out = model.sample(50)
    assert isinstance(out, pd.DataFrame) and list(out.columns) == list(schema.names)


def test_not_fitted():
    schema = redp.Schema({"x": redp.Continuous(0, 1)})
    with pytest.raises(NotFittedError, match="not fitted yet"):
        redp.REPS(epsilon=1.0, delta=1e-6, schema=schema).sample(3)


@pytest.mark.parametrize("eps", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_epsilon(eps):
    schema = redp.Schema({"x": redp.Continuous(0, 1)})
    with pytest.raises(PrivacyParameterError, match="'epsilon' parameter of REPS"):
        redp.REPS(epsilon=eps, delta=1e-6, schema=schema)


def test_bool_epsilon_is_type_error():
    schema = redp.Schema({"x": redp.Continuous(0, 1)})
    with pytest.raises(TypeError, match="must be a real number"):
        redp.REPS(epsilon=True, delta=1e-6, schema=schema)


def test_save_load_roundtrip(sim, tmp_path):
    model = _fit(sim)
    path = tmp_path / "m.redp"
    model.save(path)
    loaded = redp.REPS.load(path)
    a = model.sample(100, rng=3)
    b = loaded.sample(100, rng=3)
    for c in a:
        assert np.array_equal(a[c], b[c])
    assert loaded.privacy_report().scores is None  # no per-record data in the file


@pytest.mark.parametrize("scorer", ["histogram", "gaussian"])
def test_other_scorers(sim, scorer):
    table, schema, is_outlier = sim
    if scorer == "histogram":
        schema = redp.Schema({c: schema.columns[c] for c in ["x0", "x1", "c0"]})
        table = {c: table[c] for c in ["x0", "x1", "c0"]}
    model = redp.REPS(epsilon=3.0, delta=1e-6, schema=schema, scorer=scorer, rng=2).fit(table)
    r = model.privacy_report()
    assert r.scores[is_outlier].mean() > r.scores[~is_outlier].mean()


def test_mixture_pipeline_accounting(sim):
    from redp.accounting import per_record_epsilon

    table, schema, is_outlier = sim
    model = redp.REPS(epsilon=3.0, delta=1e-6, schema=schema, synthesizer="mixture", rng=4, n_reference=500)
    model.fit(table)
    r = model.privacy_report()
    assert r.epsilon <= 3.0 + 1e-9 and r.epsilon > 2.9
    acc = model.synthesizer_.accounting
    expected = per_record_epsilon(r.weights, 1e-6, dpsgd=(acc["q"], acc["noise_multiplier"], acc["steps"]),
                                  uniform_rho=r.rho_scoring)
    np.testing.assert_allclose(r.per_record_epsilon, expected, rtol=1e-12)
    assert r.per_record_epsilon[is_outlier].mean() < r.per_record_epsilon[~is_outlier].mean()
    out = model.sample(200)
    assert set(out) == set(schema.names) and len(out["x0"]) == 200
