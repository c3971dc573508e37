"""Out-of-core fits: additive statistics, chunk sources, identical results for any chunking."""

import itertools
import os

import numpy as np
import pytest

import redp
from redp.datasets import simulate
from redp.errors import DomainTooLargeError, InputTypeError, SchemaError, UnseenCategoryError
from redp.schema import Categorical, Continuous, Schema
from redp.sources import as_source, is_chunked_input
from redp.synth.marginal import MarginalStatistics, MarginalSynthesizer

pytestmark = pytest.mark.filterwarnings("ignore::redp.errors.InsecureRandomnessWarning")


@pytest.fixture(scope="module")
def sim():
    table, schema, _ = simulate(2500, rng=21)
    return table, schema


def _model(schema, **kw):
    args = dict(epsilon=3.0, delta=1e-6, schema=schema, rng=5, n_reference=600)
    args.update(kw)
    return redp.REPS(**args)


def _assert_same_fit(a, b, n_sample=400):
    ra, rb = a.privacy_report(), b.privacy_report()
    np.testing.assert_array_equal(ra.weights, rb.weights)
    if ra.scores is None:
        assert rb.scores is None
    else:
        np.testing.assert_array_equal(ra.scores, rb.scores)
    np.testing.assert_array_equal(ra.per_record_epsilon, rb.per_record_epsilon)
    sa, sb = a.synthesizer_, b.synthesizer_
    assert sa.edges_ == sb.edges_
    for u, v in zip(sa.noisy_one_way_, sb.noisy_one_way_):
        np.testing.assert_array_equal(u, v)
    assert sa.noisy_two_way_.keys() == sb.noisy_two_way_.keys()
    for k in sa.noisy_two_way_:
        np.testing.assert_array_equal(sa.noisy_two_way_[k], sb.noisy_two_way_[k])
    xa, xb = a.synthesizer_.sample(n_sample, rng=9), b.synthesizer_.sample(n_sample, rng=9)
    for c in xa:
        np.testing.assert_array_equal(xa[c], xb[c])


# -- statistics -----------------------------------------------------------------


def _ref_stats(codes, card, w):
    """Brute-force weighted 1-way and 2-way tables (float64, no fixed point)."""
    one = [np.bincount(codes[:, j], weights=w, minlength=c) for j, c in enumerate(card)]
    two = {}
    for a, b in itertools.combinations(range(len(card)), 2):
        t = np.zeros((card[a], card[b]))
        np.add.at(t, (codes[:, a], codes[:, b]), w)
        two[(a, b)] = t
    return one, two


def test_statistics_match_brute_force_and_add_exactly(rng):
    schema = Schema({"a": Continuous(0, 1, bins=5), "b": Categorical(list("xyz")), "c": Categorical([0, 1, 2, 3])})
    n = 3000
    data = {"a": rng.uniform(size=n), "b": rng.choice(list("xyz"), n), "c": rng.integers(0, 4, n)}
    w = rng.uniform(0.2, 1.0, n)
    m = MarginalSynthesizer()
    whole = m.statistics(data, schema, w)
    codes = schema.encode_marginal(data)
    one, two = _ref_stats(codes, schema.cardinalities, np.floor(w * 2**26) / 2**26)
    for j in range(3):
        np.testing.assert_allclose(whole.counts(j), one[j], rtol=1e-12)
    for (a, b), t in two.items():
        np.testing.assert_allclose(whole.pair_counts(a, b), t, rtol=1e-12)
        np.testing.assert_array_equal(whole.pair_counts(b, a), whole.pair_counts(a, b).T)
    # any split, any order, any grouping: the same integers
    cuts = np.sort(rng.choice(np.arange(1, n), 6, replace=False))
    bounds = [0, *cuts.tolist(), n]
    parts = [m.statistics({k: v[lo:hi] for k, v in data.items()}, schema, w[lo:hi]) for lo, hi in zip(bounds, bounds[1:])]
    assert MarginalStatistics.sum(parts) == whole
    assert MarginalStatistics.sum(parts[::-1]) == whole
    assert sum(parts[1:], parts[0]) == whole
    assert whole.n_rows == n
    assert whole != parts[0]


def test_statistics_units_and_discrete_grid():
    g = MarginalSynthesizer()
    d = MarginalSynthesizer(noise="discrete")
    w = np.array([1.0, 0.2, 0.0, 1e-9])
    assert g.weight_units(w).tolist() == [2.0**26, np.floor(0.2 * 2**26), 0.0, 0.0]
    assert np.all(g.weight_units(w) / 2**26 <= w)  # never more than the weight: privacy_map stays an upper bound
    np.testing.assert_array_equal(d.weight_units(w) / 2**26, MarginalSynthesizer.quantize_weights(w))
    schema = Schema({"a": Categorical(["x", "y"])})
    s_g = g.statistics({"a": ["x"]}, schema)
    with pytest.raises(ValueError, match=r"must come from statistics\(\) with this schema and noise='discrete'"):
        d.fit_from_statistics(s_g, schema, rho=1.0, rng=0)
    with pytest.raises(ValueError, match="statistics of different schemas or noise modes"):
        s_g + d.statistics({"a": ["x"]}, schema)
    with pytest.raises(InputTypeError, match="must be a MarginalStatistics. Got dict"):
        g.fit_from_statistics({}, schema, rho=1.0, rng=0)


def test_fit_equals_fit_from_summed_statistics(sim):
    table, schema = sim
    w = np.linspace(0.2, 1.0, len(table["x0"]))
    for noise in ("gaussian", "discrete"):
        a = MarginalSynthesizer(noise=noise).fit(table, schema, w, rho=0.8, rng=3)
        m = MarginalSynthesizer(noise=noise)
        parts = [m.statistics({k: v[i::3] for k, v in table.items()}, schema, w[i::3]) for i in range(3)]
        b = m.fit_from_statistics(MarginalStatistics.sum(parts), schema, rho=0.8, rng=3)
        assert a.edges_ == b.edges_
        for u, v in zip(a.noisy_one_way_, b.noisy_one_way_):
            np.testing.assert_array_equal(u, v)
        sa, sb = a.sample(300, rng=1), b.sample(300, rng=1)
        assert all(np.array_equal(sa[c], sb[c]) for c in sa)


def test_domain_explosion_refused_before_allocation(monkeypatch):
    import redp.synth.marginal as mm

    def boom(*a, **k):
        raise AssertionError("allocated statistics before the domain check")

    monkeypatch.setattr(mm.MarginalStatistics, "zeros", boom)
    wide = Schema({f"c{j}": Categorical(list(range(100))) for j in range(12)})  # 66 pairs x 10^4 cells
    with pytest.raises(DomainTooLargeError, match=r"The 66 candidate 2-way marginals over 12 columns have 660000 cells "
                                                  r"in all, more than max_total_cells=100000"):
        MarginalSynthesizer(max_total_cells=100_000).statistics({}, wide)
    model = redp.REPS(epsilon=1.0, delta=1e-6, schema=wide, rng=0,
                      synthesizer=MarginalSynthesizer(max_cells=5000))
    with pytest.raises(DomainTooLargeError, match=r"2-way marginal over columns \('c0', 'c1'\) has 10000 cells"):
        model.fit(os.devnull + ".npy")  # refused before the path is even opened


# -- sources ----------------------------------------------------------------------


def _as_array(table, schema):
    """The simulated table as a float 2-D array (categorical levels are strings there: map to ints)."""
    cols = []
    for name in schema.names:
        spec = schema.columns[name]
        v = table[name]
        cols.append(np.array([spec.levels.index(x) for x in v], dtype=np.float64) if isinstance(spec, Categorical) else v)
    return np.column_stack(cols)


def _int_schema(schema):
    return Schema({n: Categorical(list(range(s.cardinality))) if isinstance(s, Categorical) else s
                   for n, s in schema.columns.items()})


def test_npy_path_and_memmap_equal_in_memory(sim, tmp_path):
    table, schema = sim
    arr = _as_array(table, schema)
    schema = _int_schema(schema)
    path = str(tmp_path / "t.npy")
    np.save(path, arr)
    base = _model(schema).fit(arr)
    _assert_same_fit(base, _model(schema).fit(path, chunk_rows=700))
    mm = np.load(path, mmap_mode="r")
    src = as_source(mm, schema, chunk_rows=1000)
    assert type(src).__name__ == "_NpySource" and [c.shape[0] for c in src.chunks()] == [1000, 1000, 500]
    fitted = _model(schema).fit(mm, chunk_rows=999)
    _assert_same_fit(base, fitted)
    assert fitted.fit_chunks_ == 3
    out = fitted.sample(50)
    assert isinstance(out, np.ndarray) and out.shape == (50, len(schema))
    np.save(str(tmp_path / "f.npy"), np.asfortranarray(arr))
    _assert_same_fit(base, _model(schema).fit(str(tmp_path / "f.npy"), chunk_rows=800))


def test_csv_parquet_and_iterators_equal_in_memory(sim, tmp_path):
    pd = pytest.importorskip("pandas")
    table, schema = sim
    df = pd.DataFrame(table)
    base = _model(schema).fit(df)
    csv = str(tmp_path / "t.csv")
    df.to_csv(csv, index=False)
    _assert_same_fit(base, _model(schema).fit(csv, chunk_rows=600))
    chunks = [df.iloc[i:i + 800] for i in range(0, len(df), 800)]
    _assert_same_fit(base, _model(schema).fit(chunks))  # re-iterable list
    _assert_same_fit(base, _model(schema).fit(lambda: iter(chunks)))  # factory
    one_shot = _model(schema).fit(c for c in chunks)  # generator: spooled
    _assert_same_fit(base, one_shot)
    assert isinstance(one_shot.sample(5), pd.DataFrame)
    dicts = ({k: v[i:i + 1000] for k, v in table.items()} for i in range(0, 2500, 1000))
    _assert_same_fit(base, _model(schema).fit(dicts))
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    path = str(tmp_path / "t.parquet")
    pq.write_table(pa.Table.from_pandas(df), path, row_group_size=700)
    _assert_same_fit(base, _model(schema).fit(path, chunk_rows=500))


def test_uniform_random_and_other_weightings_stream(sim):
    table, schema = sim
    for kw in ({"weighting": "uniform"}, {"weighting": "random"}, {"weighting": "equalize"},
               {"weighting": "sigmoid"}, {"weighting": lambda s, tau: np.full(s.shape, 0.5)},
               {"synthesizer": MarginalSynthesizer(noise="discrete")}):
        whole = _model(schema, **kw)
        whole._fit_in_memory(table, whole._make_scorer() if kw.get("weighting") != "uniform" else None,
                             whole._make_synthesizer())
        _assert_same_fit(whole, _model(schema, **kw).fit(table, chunk_rows=900))


def test_chunked_input_needs_additive_configuration(sim, tmp_path):
    table, schema = sim
    path = str(tmp_path / "t.npy")
    np.save(path, np.zeros((3, len(schema))))
    with pytest.raises(InputTypeError, match="supports the marginal synthesizer with the 'reference_knn' scorer"):
        _model(schema, synthesizer="mixture").fit(path)
    with pytest.raises(InputTypeError, match="scorer=GaussianScorer"):
        _model(schema, scorer="gaussian").fit(iter([table]))
    # in memory, the other configurations keep the whole-table path
    assert _model(schema, scorer="gaussian").fit(table).fit_chunks_ is None


def test_source_errors(sim, tmp_path):
    table, schema = sim
    with pytest.raises(InputTypeError, match="does not exist"):
        as_source(str(tmp_path / "nope.npy"), schema)
    bad = tmp_path / "t.json"
    bad.write_text("{}")
    with pytest.raises(InputTypeError, match="must end in .npy, .csv or .parquet"):
        as_source(str(bad), schema)
    np.save(str(tmp_path / "w.npy"), np.zeros((4, 3)))
    with pytest.raises(SchemaError, match=r"one column per schema column \(8, in schema order\). Got shape \(4, 3\)"):
        as_source(str(tmp_path / "w.npy"), schema)
    (tmp_path / "c.csv").write_text("x0,x1\n1,2\n")
    with pytest.raises(SchemaError, match=r"lacks the schema columns \['x2'"):
        as_source(str(tmp_path / "c.csv"), schema)
    with pytest.raises(InputTypeError, match="Got int instead"):
        as_source(3, schema)
    assert is_chunked_input("a.npy") and is_chunked_input(iter([])) and not is_chunked_input(table)


def test_validation_error_names_the_chunk(sim):
    table, schema = sim
    broken = {k: v.copy() for k, v in table.items()}
    broken["c0"] = broken["c0"].astype(object)
    broken["c0"][2100] = "??"
    with pytest.raises(UnseenCategoryError, match="at row 100") as info:
        _model(schema).fit(broken, chunk_rows=1000)
    if hasattr(info.value, "__notes__"):
        assert "chunk that begins at row 2000" in info.value.__notes__[0]


def test_memory_does_not_grow_with_rows(tmp_path):
    """Peak traced allocation of a chunked fit: 4x the rows add only ~the per-record arrays."""
    import tracemalloc

    schema = Schema({"x": Continuous(0, 1, bins=8), "y": Continuous(0, 1, bins=8), "c": Categorical([0, 1, 2])})
    g = np.random.default_rng(0)
    peaks = []
    for n in (40_000, 160_000):
        path = str(tmp_path / f"{n}.npy")
        np.save(path, np.column_stack([g.uniform(size=n), g.uniform(size=n), g.integers(0, 3, n)]).astype(np.float64))
        _model(schema).fit(path, chunk_rows=10_000)  # warm-up (JIT, imports)
        tracemalloc.start()
        _model(schema).fit(path, chunk_rows=10_000)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    per_record = 8 * 5  # scores, weights, epsilons (+ decile work arrays)
    assert peaks[1] - peaks[0] < per_record * 120_000 + 2_000_000, peaks
    assert peaks[1] < 3 * 160_000 * 3 * 8 + 4_000_000, peaks  # far below a whole-table copy of the input
