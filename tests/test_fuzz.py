"""Fuzzing (issue 7): mixed-type tables with a schema through Schema and REPS.

Every example ends in one of two ways: a documented redp error (a subclass of
:class:`redp.errors.RedpError`, which is also a ``ValueError`` or ``TypeError``),
or a valid output whose reported (epsilon, delta) equals the ledger total and
never exceeds the budget. Tables hold NaN, +-inf, subnormals, huge floats,
extreme ints, strings in numeric columns, random Unicode levels, None, and 0,
1 or a few rows. Derandomised (fixed seed), no deadline; 2,100 examples in all.
"""

import contextlib
import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import redp
import redp.mechanisms as mechanisms
from redp.accounting.budget import PrivacyLedger
from redp.errors import RedpError

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

pytestmark = pytest.mark.filterwarnings("ignore::redp.errors.InsecureRandomnessWarning",
                                        "ignore::RuntimeWarning")

# --- strategies -----------------------------------------------------------------------------

nasty_floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1e308, -1e308,
                     float(np.finfo(np.float32).max), 0.5, 1.0, 1 - 2**-53]),
    st.floats(min_value=-2.0, max_value=2.0),
)
nasty_ints = st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1),
                       st.sampled_from([0, 1, -1, 2**53, 2**53 + 1, -(2**53) - 1]),
                       st.integers(min_value=-3, max_value=12))
levels_text = st.text(min_size=0, max_size=4)


@st.composite
def column_specs(draw):
    kind = draw(st.sampled_from(["continuous", "integer", "categorical"]))
    nasty = draw(st.integers(0, 4)) == 4  # about one spec in five has arbitrary (often invalid) bounds
    if kind == "continuous":
        if nasty:
            lo, hi = draw(nasty_floats), draw(nasty_floats)
        else:
            lo = draw(st.one_of(st.floats(-1e6, 1e6), st.sampled_from([0.0, -1e300, 1e-300, 5e-324])))
            span = draw(st.one_of(st.floats(1e-3, 1e3), st.sampled_from([1.0, 1e-300, 1e300, 1e308])))
            hi = lo + span
        return redp.Continuous(lo, hi, bins=draw(st.integers(1, 8)))
    if kind == "integer":
        if nasty:
            lo, hi = draw(nasty_ints), draw(nasty_ints)
        else:
            lo = draw(st.one_of(st.integers(-100, 100), st.sampled_from([-(2**53), 2**53 - 10])))
            hi = lo + draw(st.integers(1, 50))
        return redp.Integer(lo, hi, bins=draw(st.integers(1, 8)))
    levels = draw(st.lists(st.one_of(levels_text, st.integers(-5, 5)), min_size=0 if nasty else 1, max_size=5,
                           unique=not nasty))
    missing = draw(st.one_of(st.none(), levels_text))
    return redp.Categorical(levels, missing=missing)


@st.composite
def schemas(draw):
    """A Schema, or the documented SchemaError its construction raised."""
    names = draw(st.lists(st.text(min_size=1, max_size=3), min_size=1, max_size=3, unique=True))
    cols = {}
    for name in names:
        try:
            cols[name] = draw(column_specs())
        except RedpError as exc:
            return exc
    return redp.Schema(cols)


@st.composite
def column_values(draw, spec, n):
    """A column of ``n`` values for ``spec``: mostly valid, sometimes nasty."""
    if isinstance(spec, redp.Categorical):
        pool = list(spec.levels)
        odd = st.one_of(levels_text, st.none(), st.just(float("nan")), st.sampled_from(pool).map(
            lambda v: f" {v}" if isinstance(v, str) else str(v)))  # unseen, missing, re-spaced, int as str
        vals = [draw(odd) if draw(st.integers(0, 9)) == 9 else draw(st.sampled_from(pool)) for _ in range(n)]
        return np.array(vals, dtype=object)
    lo, hi = spec.lower, spec.upper
    inside = st.floats(min_value=lo, max_value=hi) if isinstance(spec, redp.Continuous) \
        else st.integers(min_value=lo, max_value=hi)
    mode = draw(st.sampled_from(["clean"] * 6 + ["float64", "float32", "int64", "object"]))
    if mode == "clean":
        vals = draw(st.lists(inside, min_size=n, max_size=n))
        return np.array(vals, dtype=np.float64 if isinstance(spec, redp.Continuous) else np.int64)
    if mode == "int64":
        return np.array(draw(st.lists(st.one_of(nasty_ints, inside.map(int) if isinstance(spec, redp.Integer)
                                                else nasty_ints), min_size=n, max_size=n)), dtype=np.int64)
    if mode == "object":
        vals = draw(st.lists(st.one_of(nasty_floats, nasty_ints, inside, st.none(), levels_text,
                                       st.just(1 + 2j)), min_size=n, max_size=n))
        return np.array(vals + [None], dtype=object)[:n]  # stays an object array
    vals = draw(st.lists(st.one_of(nasty_floats, inside.map(float)), min_size=n, max_size=n))
    with np.errstate(over="ignore"):
        return np.array(vals, dtype=np.float64).astype(mode)


@st.composite
def tables(draw, schema):
    n = draw(st.sampled_from([3, 1, 5, 2, 8, 0, 1]))
    return {name: draw(column_values(spec, n)) for name, spec in schema.columns.items()}


# --- properties ----------------------------------------------------------------------------------


def _check_table(schema, table, n):
    for name, spec in schema.columns.items():
        a = np.asarray(table[name])
        assert a.shape == (n,)
        if isinstance(spec, redp.Categorical):
            assert set(a.tolist()) <= set(spec.levels)
        else:
            assert a.dtype.kind in "fi" and np.all(np.isfinite(a))
            assert np.all((a >= spec.lower) & (a <= spec.upper))


@settings(FUZZ, max_examples=1400)
@given(st.data())
def test_schema_validate_encode_decode(data):
    schema = data.draw(schemas())
    if isinstance(schema, RedpError):
        assert isinstance(schema, (ValueError, TypeError))
        event("schema refused: " + type(schema).__name__)
        return
    raw = data.draw(tables(schema))
    strict = data.draw(st.booleans())
    try:
        table, report = schema.validate(raw, strict=strict)
    except RedpError as exc:
        assert isinstance(exc, (ValueError, TypeError)) and str(exc)
        event("data refused: " + type(exc).__name__)
        return
    event("validated")
    n = report.n_rows
    assert n >= 1
    _check_table(schema, table, n)
    dist = schema.encode_distance(table)
    assert dist.dtype == np.float32 and dist.flags.c_contiguous and dist.shape == (n, schema.distance_dim)
    assert np.all(np.isfinite(dist)) and dist.min() >= 0.0 and dist.max() <= 1.0
    codes = schema.encode_marginal(table)
    assert codes.dtype == np.int32 and np.all(codes >= 0) and np.all(codes < np.asarray(schema.cardinalities))
    # decoding lands in the same public bins (or levels), and validates again
    back = schema.decode_marginal(codes, rng=0)
    _check_table(schema, back, n)
    assert np.array_equal(schema.encode_marginal(back), codes)
    cat, cont = schema.encode_mixed(table)
    assert np.all(np.isfinite(cont)) and (cont.size == 0 or (cont.min() >= 0.0 and cont.max() <= 1.0))
    mixed = schema.decode_mixed(cat, cont)
    for name in schema.categorical_names:
        assert np.array_equal(np.asarray(mixed[name]), np.asarray(table[name]))


@contextlib.contextmanager
def spying():
    """Record every DP noise draw and ledger charge (a fixture would not reset between examples)."""
    calls = []
    patched = [(mechanisms, n) for n in ("gaussian_noise", "discrete_gaussian", "gumbel_max")]
    patched += [(PrivacyLedger, "spend"), (PrivacyLedger, "spend_rdp")]
    originals = [getattr(owner, name) for owner, name in patched]

    def wrap(name, orig):
        def f(*a, **k):
            calls.append(name)
            return orig(*a, **k)
        return f

    for (owner, name), orig in zip(patched, originals):
        setattr(owner, name, wrap(name, orig))
    try:
        yield calls
    finally:
        for (owner, name), orig in zip(patched, originals):
            setattr(owner, name, orig)


def _ledger_epsilon(report):
    rho = math.fsum(e["rho"] for e in report.ledger)
    return rho, redp.accounting.zcdp_to_epsilon(rho, report.delta)


@settings(FUZZ, max_examples=700)
@given(st.data())
def test_reps_fit_sample_reports_the_ledger(data):
    schema = data.draw(schemas())
    if isinstance(schema, RedpError):
        event("schema refused")
        return
    raw = data.draw(tables(schema))
    epsilon = data.draw(st.sampled_from([1e-3, 0.1, 1.0, 8.0]))
    delta = data.draw(st.sampled_from([1e-9, 1e-6, 1e-3]))
    weighting = data.draw(st.sampled_from(["inverse", "uniform"]))
    model = redp.REPS(epsilon=epsilon, delta=delta, schema=schema, weighting=weighting, rng=data.draw(st.integers(0, 9)),
                      n_reference=10, k=2, strict=data.draw(st.booleans()))
    try:
        with warnings.catch_warnings(), spying() as calls:
            warnings.simplefilter("ignore")
            model.fit(raw)
    except RedpError as exc:
        assert isinstance(exc, (ValueError, TypeError)) and str(exc)
        assert calls == [], f"{type(exc).__name__} raised after budget was spent / noise drawn: {calls}"
        assert not hasattr(model, "report_")
        event("fit refused: " + type(exc).__name__ + (": " + str(exc)[:60] if isinstance(exc, redp.errors.ParameterError) else ""))
        return
    event("fitted")
    rep = model.privacy_report()
    rho, eps = _ledger_epsilon(rep)
    assert rep.delta == delta
    assert rep.rho_total == pytest.approx(rho, rel=1e-12)
    assert rep.epsilon == pytest.approx(eps, rel=1e-9)
    assert rep.epsilon <= epsilon * (1 + 1e-12)
    w = rep.weights
    assert np.all((w > 0) & (w <= 1)) and np.all(rep.per_record_epsilon <= rep.epsilon * (1 + 1e-12))
    n = data.draw(st.integers(1, 20))
    out = model.sample(n)
    table, vrep = schema.validate(out, strict=True)
    _check_table(schema, table, n)
