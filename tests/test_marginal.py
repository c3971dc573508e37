"""MarginalSynthesizer and its kernels: histograms, ancestral sampling, privacy map."""

import pickle
import warnings

import numba
import numpy as np
import pytest

from redp import _reference as ref
from redp._kernels.ancestral import sample_tree, uniforms
from redp._kernels.histogram import bincount_blocks, weighted_bincount, weighted_bincount2
from redp.errors import DomainTooLargeError, InputTypeError, InsecureRandomnessWarning, NotFittedError
from redp.schema import Categorical, Continuous, Integer, Schema
from redp.synth import MarginalSynthesizer, Synthesizer
from redp.synth.marginal import budget_split
from redp.synth.tree import fit_pair, kruskal_select, project_simplex

stats = pytest.importorskip("scipy.stats")

pytestmark = pytest.mark.filterwarnings("ignore::redp.errors.InsecureRandomnessWarning")


# -- weighted histogram kernel -------------------------------------------------

@pytest.mark.parametrize("dtype", [np.int32, np.int64])
@pytest.mark.parametrize("n, n_cells", [(1, 1), (1000, 7), (300_000, 50), (70_000, 100_000)])
def test_weighted_bincount_equals_np_bincount(rng, dtype, n, n_cells):
    codes = rng.integers(0, n_cells, n).astype(dtype)
    w = rng.random(n)
    got = weighted_bincount(codes, w, n_cells)
    assert got.dtype == np.float64 and got.shape == (n_cells,)
    np.testing.assert_allclose(got, np.bincount(codes, weights=w, minlength=n_cells), rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(weighted_bincount(codes, None, n_cells), np.bincount(codes, minlength=n_cells))
    if n <= 1000:
        np.testing.assert_allclose(got, ref.weighted_bincount_ref(codes, w, n_cells), rtol=1e-12)


def test_weighted_bincount_empty_and_grid_weights_exact(rng):
    assert weighted_bincount(np.zeros(0, dtype=np.int32), np.zeros(0), 3).tolist() == [0.0, 0.0, 0.0]
    codes = rng.integers(0, 10, 200_000).astype(np.int32)
    w = rng.integers(0, 257, codes.size).astype(float)  # weights * 256: integers -> exact sums
    np.testing.assert_array_equal(weighted_bincount(codes, w, 10), np.bincount(codes, weights=w, minlength=10))


def test_weighted_bincount2_equals_reference(rng):
    a, b = rng.integers(0, 5, 100_000), rng.integers(0, 9, 100_000)
    w = rng.random(100_000)
    got = weighted_bincount2(a.astype(np.int32), b.astype(np.int32), 5, 9, w)
    np.testing.assert_allclose(got, ref.weighted_bincount2_ref(a, b, 5, 9, w), rtol=1e-10)
    np.testing.assert_allclose(got, np.bincount(a * 9 + b, weights=w, minlength=45).reshape(5, 9), rtol=1e-10)


def test_histogram_identical_for_1_and_2_threads(rng):
    codes = rng.integers(0, 30, 1_200_000).astype(np.int32)
    w = rng.random(codes.size)
    assert bincount_blocks(codes.size, 30) > 1
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = weighted_bincount(codes, w, 30)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = weighted_bincount(codes, w, 30)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(one, two)


# -- ancestral sampling kernel -------------------------------------------------

def _tree_model(rng, card=(3, 4, 2), scale=None):
    """Root 0 -> child 1 -> child 2; returns (order, parent, card, offset, cdf, joint)."""
    c0, c1, c2 = card
    p0 = rng.dirichlet(np.ones(c0))
    p1 = rng.dirichlet(np.ones(c1), size=c0)
    p2 = rng.dirichlet(np.ones(c2), size=c1)
    if scale is not None:  # perturb the likeliest conditional by a relative factor (power check)
        k0 = int(np.argmax(p0))
        k1 = int(np.argmin(np.abs(p1[k0] - 0.5)))
        p1 = p1.copy()
        p1[k0, k1] *= scale
        p1[k0] /= p1[k0].sum()
    blocks = [p0[None, :], p1, p2]
    cdf = [np.cumsum(b, axis=1) for b in blocks]
    for c in cdf:
        c /= c[:, -1:]
        c[:, -1] = 1.0
    flat = [c.ravel() for c in cdf]
    offset = np.cumsum([0] + [f.size for f in flat[:-1]])
    joint = p0[:, None, None] * p1[:, :, None] * p2[None, :, :]
    return (np.array([0, 1, 2]), np.array([-1, 0, 1]), np.array(card), offset, np.concatenate(flat), joint)


def test_sample_tree_equals_reference(rng):
    order, parent, card, offset, cdf, _ = _tree_model(rng)
    got = sample_tree(2000, order, parent, card, offset, cdf, seed=99)
    want = ref.sample_tree_ref(2000, order, parent, card, offset, cdf, 99)
    assert got.dtype == np.int32 and got.shape == (2000, 3)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(uniforms(99, 4), [ref.splitmix_uniform_ref(99, i) for i in range(4)])
    # counter-based: the parallel path (large n) draws the same rows as the serial one
    big = sample_tree(100_000, order, parent, card, offset, cdf, seed=99)
    np.testing.assert_array_equal(big[:2000], got)


def _chi2_pvalue(samples, joint):
    card = joint.shape
    idx = (samples[:, 0].astype(np.int64) * card[1] + samples[:, 1]) * card[2] + samples[:, 2]
    obs = np.bincount(idx, minlength=joint.size)
    exp = joint.ravel() * samples.shape[0]
    keep = exp > 0
    assert obs[~keep].sum() == 0  # never a zero-probability cell
    return stats.chisquare(obs[keep], exp[keep]).pvalue


def test_ancestral_sampling_reproduces_tree_distribution(rng):
    order, parent, card, offset, cdf, joint = _tree_model(rng)
    pvals = [_chi2_pvalue(sample_tree(50_000, order, parent, card, offset, cdf, seed=s), joint) for s in range(3)]
    assert min(pvals) > 1e-4
    # power: a sampler with one conditional probability off by 10% is rejected at the same size
    seed = int(rng.integers(2**32))
    *_, joint_true = _tree_model(np.random.default_rng(seed))
    o2, p2, c2, off2, cdf2, _ = _tree_model(np.random.default_rng(seed), scale=1.1)
    assert _chi2_pvalue(sample_tree(150_000, o2, p2, c2, off2, cdf2, seed=1), joint_true) < 1e-4


def test_ancestral_sampling_zero_probability_levels():
    order, parent, card = np.array([0, 1]), np.array([-1, 0]), np.array([3, 3])
    cdf = np.array([0.0, 0.0, 1.0,   0.5, 0.5, 1.0,   0.0, 1.0, 1.0,   0.0, 0.0, 1.0])
    s = sample_tree(5000, order, parent, card, np.array([0, 3]), cdf, seed=3)
    assert set(s[:, 0].tolist()) == {2}
    assert set(s[:, 1].tolist()) == {2}


def test_sample_tree_identical_for_1_and_2_threads(rng):
    order, parent, card, offset, cdf, _ = _tree_model(rng)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = sample_tree(100_000, order, parent, card, offset, cdf, seed=5)
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = sample_tree(100_000, order, parent, card, offset, cdf, seed=5)
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(one, two)


# -- post-processing helpers ---------------------------------------------------

def test_project_simplex_is_the_least_squares_projection(rng):
    for _ in range(20):
        v = rng.normal(0, 3, 12)
        total = float(rng.uniform(0.5, 20))
        x = project_simplex(v, total)
        assert x.min() >= 0 and abs(x.sum() - total) < 1e-9
        for _ in range(20):  # no feasible point is closer
            y = rng.dirichlet(np.ones(12)) * total
            assert np.linalg.norm(v - x) <= np.linalg.norm(v - y) + 1e-12


def test_fit_pair_matches_margins(rng):
    noisy = rng.normal(5, 4, (6, 4))
    rows, cols = rng.dirichlet(np.ones(6)) * 100, rng.dirichlet(np.ones(4)) * 100
    t = fit_pair(noisy, rows, cols, iters=200)
    assert t.min() >= 0
    np.testing.assert_allclose(t.sum(axis=1), rows, rtol=1e-9)
    np.testing.assert_allclose(t.sum(axis=0), cols, rtol=1e-4)


def test_kruskal_select_builds_a_spanning_tree():
    pairs = [(a, b) for a in range(5) for b in range(a + 1, 5)]
    scores = np.arange(len(pairs), dtype=float)
    calls = []
    edges = kruskal_select(5, pairs, scores, lambda s: calls.append(len(s)) or int(np.argmax(s)))
    assert len(edges) == 4 and len(calls) == 4 and calls[0] == 10
    assert set(edges) == {(3, 4), (2, 4), (1, 4), (0, 4)}


# -- the synthesizer -----------------------------------------------------------

@pytest.fixture
def schema():
    return Schema({
        "age": Integer(18, 80, bins=8),
        "x": Continuous(0.0, 1.0, bins=6),
        "smoker": Categorical(["no", "yes"]),
        "sick": Categorical(["no", "yes"]),
        "city": Categorical([f"c{i}" for i in range(12)]),
    })


def _data(rng, n=4000):
    smoker = rng.random(n) < 0.3
    return {
        "age": rng.integers(18, 81, n),
        "x": np.clip(rng.normal(0.5, 0.15, n), 0, 1),
        "smoker": np.where(smoker, "yes", "no"),
        "sick": np.where(smoker ^ (rng.random(n) < 0.1), "yes", "no"),
        "city": np.array([f"c{i}" for i in rng.zipf(2.0, n) % 12]),
    }


def test_protocol_and_fit_sample(schema, rng):
    data = _data(rng)
    m = MarginalSynthesizer()
    assert isinstance(m, Synthesizer)
    assert m.fit(data, schema, rho=2.0, rng=rng) is m
    s = m.sample(3000, rng=1)
    assert list(s) == list(schema.names) and all(len(v) == 3000 for v in s.values())
    assert s["age"].dtype == np.int64 and s["x"].dtype == np.float64
    assert np.mean(s["smoker"] == s["sick"]) > 0.8  # the strong pair made it into the tree
    assert ("smoker", "sick") in m.edges_ or ("sick", "smoker") in m.edges_
    assert len(m.edges_) == 4
    kinds = [meas.kind for meas in m.measurements]
    assert kinds.count("1-way") == 5 and kinds.count("select") == 4 and kinds.count("2-way") == 4
    empty = m.sample(0, rng=1)
    assert all(len(v) == 0 for v in empty.values())


def test_budget_split_never_exceeds_rho(rng):
    for rho in np.concatenate([rng.uniform(1e-6, 10, 200), [0.1, 0.3, 1 / 3, 1.0, 7.0]]):
        for d in (1, 2, 3, 15):
            r1, rs, r2 = budget_split(float(rho), d, 1 / 3, 1 / 3)
            assert r1 + rs + r2 <= rho and r1 > 0
            assert r1 + rs + r2 >= rho * (1 - 1e-12)
            assert (rs == 0) == (d <= 2) and (r2 == 0) == (d == 1)


def test_measurements_spend_at_most_the_parts(schema, rng):
    m = MarginalSynthesizer().fit(_data(rng, 500), schema, rho=0.7, rng=rng)
    parts = m.rho_parts_
    assert sum(parts.values()) <= 0.7
    by_kind = {}
    for meas in m.measurements:
        by_kind.setdefault(meas.kind, []).append(meas)
    s1 = by_kind["1-way"][0]
    assert 5 / (2 * s1.sigma ** 2) <= parts["one_way"]  # batch of 5 marginals, L2 sensitivity sqrt(5)
    s2 = by_kind["2-way"][0]
    assert 4 / (2 * s2.sigma ** 2) <= parts["two_way"]
    eps = by_kind["select"][0].sigma
    assert 4 * eps ** 2 / 8 <= parts["selection"]
    assert abs(5 / (2 * s1.sigma ** 2) - parts["one_way"]) < 1e-9 * parts["one_way"]


def test_privacy_map_exact(schema, rng):
    data = _data(rng, 500)
    w = rng.random(500)
    m = MarginalSynthesizer().fit(data, schema, w, rho=0.37, rng=rng)
    assert m.rho == 0.37
    np.testing.assert_array_equal(m.privacy_map(w), w ** 2 * 0.37)
    grid = np.array([1.0, 0.5, 0.25, 0.0, 3 / 256])
    d = MarginalSynthesizer(noise="discrete").fit(data, schema, rho=0.37, rng=rng)
    np.testing.assert_array_equal(d.privacy_map(grid), grid ** 2 * 0.37)
    q = d.privacy_map(np.array([0.2]))  # quantised UP: never under-reports
    assert q[0] == (52 / 256) ** 2 * 0.37 and q[0] > 0.2 ** 2 * 0.37
    with pytest.raises(ValueError, match=r"finite values in \[0, 1\]. Got 1.5 at row 1"):
        m.privacy_map([0.5, 1.5])
    with pytest.raises(NotFittedError):
        MarginalSynthesizer().privacy_map([1.0])


def test_max_cells_refused_before_any_noise(schema, rng, monkeypatch):
    import redp.mechanisms as mech

    def boom(*a, **k):
        raise AssertionError("noise drawn before the domain check")

    monkeypatch.setattr(mech, "gaussian_noise", boom)
    monkeypatch.setattr(mech, "gumbel_max", boom)
    with pytest.raises(DomainTooLargeError, match=r"2-way marginal over columns \('age', 'city'\) has 96 cells, more than max_cells=90"):
        MarginalSynthesizer(max_cells=90).fit(_data(rng, 50), schema, rho=1.0, rng=0)
    with pytest.raises(DomainTooLargeError, match="1-way marginal of column 'city' has 12 cells, more than max_cells=10"):
        MarginalSynthesizer(max_cells=10).fit(_data(rng, 50), schema, rho=1.0, rng=0)


def test_weight_validation(schema, rng):
    data = _data(rng, 100)
    m = MarginalSynthesizer()
    with pytest.raises(ValueError, match=r"must have shape \(100,\). Got \(99,\)"):
        m.fit(data, schema, np.ones(99), rho=1.0, rng=0)
    bad = np.ones(100)
    bad[7] = -0.1
    with pytest.raises(ValueError, match=r"finite values in \[0, 1\]. Got -0.1 at row 7"):
        m.fit(data, schema, bad, rho=1.0, rng=0)
    bad[7] = np.nan
    with pytest.raises(ValueError, match="Got nan at row 7"):
        m.fit(data, schema, bad, rho=1.0, rng=0)
    with pytest.raises(InputTypeError, match="must be a real array"):
        m.fit(data, schema, np.array(["1"] * 100), rho=1.0, rng=0)
    with pytest.raises(ValueError, match="'rho' parameter of MarginalSynthesizer.fit"):
        m.fit(data, schema, rho=0.0, rng=0)
    with pytest.raises(NotFittedError):
        m.sample(3)


def test_constructor_validation():
    with pytest.raises(ValueError, match="'noise' parameter of MarginalSynthesizer must be 'gaussian' or 'discrete'"):
        MarginalSynthesizer(noise="laplace")
    with pytest.raises(ValueError, match="selection_fraction \\+ one_way_fraction < 1"):
        MarginalSynthesizer(selection_fraction=0.5, one_way_fraction=0.5)
    with pytest.raises(ValueError, match="'max_cells' parameter of MarginalSynthesizer must be an int in the range"):
        MarginalSynthesizer(max_cells=0)


def test_same_seed_same_output(schema, rng):
    data = _data(rng, 2000)
    a = MarginalSynthesizer().fit(data, schema, rho=1.0, rng=42).sample(500, rng=7)
    b = MarginalSynthesizer().fit(data, schema, rho=1.0, rng=42).sample(500, rng=7)
    c = MarginalSynthesizer().fit(data, schema, rho=1.0, rng=42).sample(500, rng=8)
    for n in schema.names:
        np.testing.assert_array_equal(a[n], b[n])
    assert any(not np.array_equal(a[n], c[n]) for n in schema.names)


def test_weights_all_one_equals_no_weights(schema, rng):
    data = _data(rng, 2000)
    for noise in ("gaussian", "discrete"):
        a = MarginalSynthesizer(noise=noise).fit(data, schema, None, rho=1.0, rng=3).sample(400, rng=4)
        b = MarginalSynthesizer(noise=noise).fit(data, schema, np.ones(2000), rho=1.0, rng=3).sample(400, rng=4)
        for n in schema.names:
            np.testing.assert_array_equal(a[n], b[n])


def test_zero_weight_records_have_no_influence(schema, rng):
    data = _data(rng, 2000)
    extra = _data(np.random.default_rng(5), 300)
    both = {n: np.concatenate([data[n], extra[n]]) for n in schema.names}
    w = np.concatenate([np.ones(2000), np.zeros(300)])
    a = MarginalSynthesizer().fit(data, schema, rho=1.0, rng=11).sample(500, rng=2)
    b = MarginalSynthesizer().fit(both, schema, w, rho=1.0, rng=11).sample(500, rng=2)
    for n in schema.names:
        np.testing.assert_array_equal(a[n], b[n])


def test_small_schemas_and_discrete_noise(rng):
    one = Schema({"c": Categorical(["a", "b", "c"])})
    data = {"c": rng.choice(["a", "b", "c"], 3000, p=[0.6, 0.3, 0.1])}
    m = MarginalSynthesizer(noise="discrete").fit(data, one, rho=1.0, rng=rng)
    s = m.sample(20_000, rng=0)["c"]
    np.testing.assert_allclose([np.mean(s == v) for v in "abc"], [0.6, 0.3, 0.1], atol=0.02)
    assert m.rho_parts_["selection"] == 0 and m.rho_parts_["two_way"] == 0
    two = Schema({"a": Categorical([0, 1]), "b": Categorical([0, 1])})
    a = rng.integers(0, 2, 3000)
    m2 = MarginalSynthesizer(noise="discrete").fit({"a": a, "b": a}, two, rng.random(3000), rho=2.0, rng=rng)
    s2 = m2.sample(5000, rng=0)
    assert m2.edges_ == [("a", "b")] and np.mean(s2["a"] == s2["b"]) > 0.95


def test_secure_rng_and_pickle(schema, rng):
    data = _data(rng, 500)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsecureRandomnessWarning)
        m = MarginalSynthesizer().fit(data, schema, rho=1.0, rng="secure")
    again = pickle.loads(pickle.dumps(m))
    a, b = m.sample(200, rng=3), again.sample(200, rng=3)
    for n in schema.names:
        np.testing.assert_array_equal(a[n], b[n])


def test_utility_improves_with_budget(schema, rng):
    data = _data(rng, 6000)
    real = schema.encode_marginal(data)

    def tvd(rho):
        s = schema.encode_marginal(MarginalSynthesizer().fit(data, schema, rho=rho, rng=1).sample(6000, rng=2))
        out = []
        for a in range(5):
            for b in range(a + 1, 5):
                cb = schema.cardinalities[b]
                p = np.bincount(real[:, a] * cb + real[:, b], minlength=schema.cardinalities[a] * cb)
                q = np.bincount(s[:, a] * cb + s[:, b], minlength=schema.cardinalities[a] * cb)
                out.append(0.5 * np.abs(p - q).sum() / 6000)
        return np.mean(out)

    hi, lo = tvd(10.0), tvd(1e-4)
    assert hi < 0.08 and lo > hi + 0.05


def test_compress_follows_a_map_that_moves_one_rare_level():
    # one rare level keeps the column's size but moves to the last cell: the table must be permuted
    from redp.synth.marginal import _compress

    units = np.arange(12, dtype=np.int64).reshape(3, 4)
    map_a = np.array([0, 2, 1], dtype=np.int32)  # level 1 is rare -> merged cell 2
    map_b = np.arange(4, dtype=np.int32)
    out = _compress(units, map_a, map_b, 3, 4)
    expected = np.zeros((3, 4), dtype=np.int64)
    for i in range(3):
        expected[map_a[i]] += units[i]
    assert np.array_equal(out, expected)


def test_one_rare_level_does_not_scramble_pairs():
    from redp.audit.utility import tvd_2way

    g = np.random.default_rng(0)
    n = 20000
    a = g.choice(3, n, p=[0.6, 0.00005, 0.39995])  # level 1 is rare: compressed alone
    b = np.where(a == 0, 0, 1) ^ (g.random(n) < 0.05)
    schema = Schema({"a": Categorical(["x", "r", "y"]), "b": Categorical(["u", "v"])})
    table = {"a": np.array(["x", "r", "y"])[a], "b": np.array(["u", "v"])[b]}
    model = MarginalSynthesizer().fit(table, schema, rho=5.0, rng=1)
    syn = model.sample(n, rng=2)
    real_codes = schema.encode_marginal(schema.validate(table)[0])
    syn_codes = schema.encode_marginal(schema.validate(syn)[0])
    assert tvd_2way(real_codes, syn_codes, schema.cardinalities) < 0.03


def test_discrete_noise_refuses_budgets_too_large_for_its_accounting():
    from redp.errors import PrivacyParameterError

    schema = Schema({"a": Categorical(["x", "y"]), "b": Categorical(["u", "v"])})
    table = {"a": np.array(["x", "y"] * 10), "b": np.array(["u", "v"] * 10)}
    with pytest.raises(PrivacyParameterError, match="noise='discrete' needs a noise scale"):
        MarginalSynthesizer(noise="discrete").fit(table, schema, rho=1e6, rng=0)
    MarginalSynthesizer(noise="discrete").fit(table, schema, rho=10.0, rng=0)  # ordinary budgets are fine
