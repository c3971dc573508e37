"""Bad input never yields a weaker guarantee (issue 7).

One test per class of bad input, through the public API (``REPS``) and the
command line (``redp.cli.main`` returns 2, message on stderr). Every failing
fit is checked to have drawn no DP noise, charged no ledger and left the
previously fitted model (its report and ledger) untouched.
"""

import io
import os
import unicodedata
from contextlib import redirect_stderr

import numpy as np
import pytest

import redp
import redp.mechanisms as mechanisms
from redp.accounting import DEFAULT_ORDERS, Budget
from redp.accounting.budget import PrivacyLedger
from redp.cli import main
from redp.errors import (
    BudgetExceededError,
    DomainTooLargeError,
    InputTypeError,
    MissingValueError,
    NotFittedError,
    OutOfBoundsError,
    ParameterError,
    PrivacyParameterError,
    RedpError,
    SchemaError,
    UnseenCategoryError,
)

pd = pytest.importorskip("pandas")
pytestmark = pytest.mark.filterwarnings("ignore::redp.errors.InsecureRandomnessWarning")

FAST = dict(n_reference=20, k=2)


@pytest.fixture
def schema():
    return redp.Schema({"x": redp.Continuous(0.0, 1.0, bins=4),
                        "c": redp.Categorical(["Male", "Female"]),
                        "i": redp.Integer(0, 5)})


@pytest.fixture
def data(rng):
    n = 30
    return {"x": rng.uniform(size=n), "c": rng.choice(["Male", "Female"], n), "i": rng.integers(0, 6, n)}


@pytest.fixture
def spy(monkeypatch):
    """Records every DP noise draw and every ledger charge made while it is active."""
    calls = []

    def wrap(owner, name):
        orig = getattr(owner, name)

        def f(*a, **k):
            calls.append(name)
            return orig(*a, **k)

        monkeypatch.setattr(owner, name, f)

    for name in ("gaussian_noise", "discrete_gaussian", "gumbel_max", "noisy_weighted_mean"):
        wrap(mechanisms, name)
    for name in ("spend", "spend_rdp"):
        wrap(PrivacyLedger, name)
    return calls


def _model(schema, **kw):
    args = dict(epsilon=1.0, delta=1e-6, schema=schema, rng=0, **FAST)
    args.update(kw)
    return redp.REPS(**args)


def _with(data, **cols):
    out = {k: np.array(v, copy=True) for k, v in data.items()}
    out.update(cols)
    return out


def assert_refused(schema, good, bad, spy, exc, match, **kw):
    """Fit on ``good``, then refit on ``bad``: typed error, no noise, no spend, report unchanged."""
    model = _model(schema, **kw).fit(good)
    before = model.privacy_report()
    ledger_before = list(before.ledger)
    spy.clear()
    with pytest.raises(exc, match=match) as info:
        model.fit(bad)
    assert isinstance(info.value, RedpError) and isinstance(info.value, (ValueError, TypeError))
    assert spy == [], f"budget spent or noise drawn before the error: {spy}"
    assert model.privacy_report() is before and before.ledger == ledger_before
    return info.value


# --- NaN / inf / missing -----------------------------------------------------------------


@pytest.mark.parametrize("case", ["nan_f64", "nan_f32", "inf_f64", "ninf_f32", "pd_Float64_NA", "pd_Int64_NA",
                                  "cat_None", "cat_nan", "pd_string_NA"])
def test_nan_inf_and_missing_values_raise(case, schema, data, spy):
    if case.startswith(("nan", "inf", "ninf")):
        x = data["x"].copy()
        x[3] = {"nan": np.nan, "inf": np.inf, "ninf": -np.inf}[case.split("_")[0]]
        bad = _with(data, x=x.astype(np.float32 if case.endswith("f32") else np.float64))
        col, row = "x", 3
    elif case == "pd_Float64_NA":
        bad = pd.DataFrame(data).astype({"x": "Float64"})
        bad.loc[3, "x"] = pd.NA
        col, row = "x", 3
    elif case == "pd_Int64_NA":
        bad = pd.DataFrame(data).astype({"i": "Int64"})
        bad.loc[3, "i"] = pd.NA
        col, row = "i", 3
    else:
        c = data["c"].astype(object)
        c[3] = {"cat_None": None, "cat_nan": np.nan, "pd_string_NA": pd.NA}[case]
        bad = pd.DataFrame(_with(data, c=c))
        if case == "pd_string_NA":
            bad = bad.astype({"c": "string"})
        col, row = "c", 3
    err = assert_refused(schema, data, bad, spy, MissingValueError, f"Column '{col}' .* at row {row}")
    assert ("drop or impute" in str(err)) or ("missing=" in str(err))


def test_missing_level_declared_maps_none(data):
    schema = redp.Schema({"c": redp.Categorical(["Male", "Female"], missing="?")})
    c = data["c"].astype(object)
    c[[1, 2]] = None
    table, report = schema.validate({"c": c})
    assert report.missing == {"c": 2} and table["c"][1] == "?"


# --- bounds and magnitudes ------------------------------------------------------------------


def test_out_of_bounds_values_are_clamped_and_counted_strict_raises(schema, data, spy):
    x = data["x"].copy()
    x[[2, 5]] = [1.5, -3.0]
    i = data["i"].copy()
    i[7] = 99
    bad = _with(data, x=x, i=i)
    report = _model(schema).fit(bad).privacy_report()
    assert report.clamped == {"x": 2, "i": 1}
    assert "values clamped to public bounds" in report.summary()
    assert_refused(schema, data, bad, spy, OutOfBoundsError,
                   r"Column 'x' has value 1.5 at row 2, outside its public bounds \[0.0, 1.0\] \(2 value\(s\) out "
                   r"of bounds\). Use strict=False to clamp.", strict=True)


@pytest.mark.parametrize("value", [1e308, -1e308, np.finfo(np.float64).max, np.finfo(np.float32).max, 5e-324])
def test_huge_and_tiny_magnitudes(value, schema, data):
    x = data["x"].copy()
    x[0] = value
    model = _model(schema).fit(_with(data, x=x))
    out = model.sample(50)
    assert np.all((out["x"] >= 0.0) & (out["x"] <= 1.0))
    assert model.privacy_report().clamped["x"] == int(not 0.0 <= value <= 1.0)


@pytest.mark.parametrize("lower, upper", [(-1e308, 1e308), (0.0, 1e-310), (-np.inf, 0.0)])
def test_bounds_whose_span_overflows_are_refused(lower, upper):
    # a span of inf (or 16 / subnormal = inf) turned values into NaN bin codes (and crashed the kernels)
    with pytest.raises(SchemaError, match=r"(finite, non-tiny span|must be finite)"):
        redp.Continuous(lower, upper)


# --- dtypes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["string_in_object", "str_dtype", "complex", "datetime", "timedelta", "bytes"])
def test_wrong_dtypes_in_numeric_columns(case, schema, data, spy):
    n = len(data["x"])
    if case == "string_in_object":
        x = data["x"].astype(object)
        x[4] = "abc"
        match = r"Column 'x' is Continuous in the schema and must hold real numbers. Got 'abc' \(type str\) at row 4"
    else:
        x = {"str_dtype": data["x"].astype(str), "complex": data["x"].astype(complex),
             "datetime": np.array(["2020-01-01"] * n, dtype="datetime64[D]"),
             "timedelta": np.arange(n).astype("timedelta64[s]"),
             "bytes": data["x"].astype("S8")}[case]
        match = r"Column 'x' is Continuous in the schema and must hold real numbers. Got dtype"
    assert_refused(schema, data, _with(data, x=x), spy, InputTypeError, match)


def test_whole_table_of_wrong_type(schema):
    with pytest.raises(InputTypeError, match="data must be a pandas DataFrame, a dict of arrays or a 2-D numpy array"):
        _model(schema).fit([[0.1, "Male", 1]])
    with pytest.raises(InputTypeError, match="column 'x' must be 1-D"):
        _model(schema).fit({"x": np.zeros((3, 2)), "c": ["Male"] * 3, "i": [1, 2, 3]})


def test_int64_above_2_53(schema, data, spy):
    # Integer bounds must be exact in float64 ...
    with pytest.raises(SchemaError, match=r"Integer bounds must lie within \[-2\*\*53, 2\*\*53\]"):
        redp.Integer(0, 2**53 + 2)
    # ... so an int64 above 2^53 is always out of bounds: clamped and counted, never silently rounded in range
    i = data["i"].astype(np.int64)
    i[1] = 2**53 + 1
    i[2] = np.iinfo(np.int64).min
    bad = _with(data, i=i)
    assert _model(schema).fit(bad).privacy_report().clamped["i"] == 2
    assert_refused(schema, data, bad, spy, OutOfBoundsError, r"Column 'i' has value .* at row 1", strict=True)


# --- sizes of the table ---------------------------------------------------------------------


def test_zero_rows_and_zero_columns(schema, data, spy):
    assert_refused(schema, data, {k: v[:0] for k, v in data.items()}, spy, SchemaError, "the data has 0 rows")
    assert_refused(schema, data, pd.DataFrame(index=range(5)), spy, SchemaError,
                   r"lacks column\(s\) \['x', 'c', 'i'\]")
    with pytest.raises(SchemaError, match="must be a non-empty dict"):
        redp.Schema({})


def test_single_row_succeeds_and_stays_dp(schema, data):
    one = {k: v[:1] for k, v in data.items()}
    model = _model(schema).fit(one)
    rep = model.privacy_report()
    assert rep.epsilon <= 1.0 + 1e-12 and rep.per_record_epsilon.shape == (1,)
    assert rep.per_record_epsilon.max() <= rep.epsilon + 1e-12
    assert len(model.sample(5)["x"]) == 5


def test_duplicate_rows_succeed_with_the_same_guarantee(schema, data):
    dup = {k: np.repeat(v[:1], 50) for k, v in data.items()}
    rep = _model(schema).fit(dup).privacy_report()
    uniq = _model(schema).fit(data).privacy_report()
    assert rep.epsilon == uniq.epsilon and rep.rho_total == uniq.rho_total
    assert rep.per_record_epsilon.shape == (50,) and rep.per_record_epsilon.max() <= rep.epsilon + 1e-12


# --- categorical levels -----------------------------------------------------------------------


@pytest.mark.parametrize("value", [" Male", "male", "MALE", "Male\u200b", "Male ", 1, "M"])
def test_unseen_or_differently_normalised_levels(value, schema, data, spy):
    c = data["c"].astype(object)
    c[6] = value
    err = assert_refused(schema, data, _with(data, c=c), spy, UnseenCategoryError,
                         rf"Column 'c' has value {repr(value)[:4]}.* at row 6, which is not among its public levels")
    assert "['Male', 'Female']" in str(err) and "Add the level to the schema" in str(err)


def test_unicode_normalisation_forms_are_different_levels():
    schema = redp.Schema({"c": redp.Categorical([unicodedata.normalize("NFC", "café")])})
    nfd = unicodedata.normalize("NFD", "café")
    with pytest.raises(UnseenCategoryError, match="Column 'c' has value 'caf.* at row 0") as info:
        schema.validate({"c": np.array([nfd])})
    assert repr(nfd) in str(info.value)  # the message shows the value exactly as given


# --- domain explosion ---------------------------------------------------------------------------


def test_domain_explosion_is_refused_before_any_spend(spy):
    big = redp.Schema({f"c{j}": redp.Categorical([str(v) for v in range(2000)]) for j in range(3)})
    small = {f"c{j}": np.array(["1", "2", "3"]) for j in range(3)}
    for weighting in ("inverse", "uniform"):
        spy.clear()
        with pytest.raises(DomainTooLargeError, match=r"has 4000000 cells, more than max_cells=1000000"):
            redp.REPS(epsilon=1.0, delta=1e-6, schema=big, rng=0, weighting=weighting, **FAST).fit(small)
        assert spy == []


# --- privacy parameters ---------------------------------------------------------------------------


@pytest.mark.parametrize("eps, exc, match", [
    (0, PrivacyParameterError, r"The 'epsilon' parameter of REPS must be a finite number in \(0.0, inf\). Got 0.0"),
    (-1.0, PrivacyParameterError, "Got -1.0 instead"),
    (float("nan"), PrivacyParameterError, "Got nan instead"),
    (float("inf"), PrivacyParameterError, "Got inf instead"),
    (True, InputTypeError, "The 'epsilon' parameter of REPS must be a real number. Got True instead."),
    ("1", InputTypeError, "must be a real number. Got '1' instead."),
    (None, InputTypeError, "must be a real number. Got None instead."),
])
def test_bad_epsilon(eps, exc, match, schema):
    with pytest.raises(exc, match=match):
        _model(schema, epsilon=eps)


@pytest.mark.parametrize("delta, exc, match", [
    (0.0, PrivacyParameterError, r"The 'delta' parameter of REPS must be in \(0, 1\)"),
    (-0.1, PrivacyParameterError, r"must be a finite number in \[0.0, 1.0\). Got -0.1"),
    (1.0, PrivacyParameterError, "Got 1.0 instead"),
    (1.5, PrivacyParameterError, "Got 1.5 instead"),
    (float("nan"), PrivacyParameterError, "Got nan instead"),
    (True, InputTypeError, "must be a real number. Got True instead."),
    ("1e-6", InputTypeError, "must be a real number. Got '1e-6' instead."),
])
def test_bad_delta(delta, exc, match, schema):
    with pytest.raises(exc, match=match):
        _model(schema, delta=delta)


def test_delta_above_one_over_n_warns(schema, data):
    with pytest.warns(redp.errors.WeakPrivacyWarning, match="delta"):
        _model(schema, delta=0.1).fit(data)  # 30 rows: 1/n = 0.033


# --- sizes and seeds -------------------------------------------------------------------------------


@pytest.mark.parametrize("kw, exc, match", [
    (dict(k=0), ParameterError, r"The 'k' parameter of REPS must be an int in the range \[1, inf\). Got 0 instead."),
    (dict(k=2.5), InputTypeError, "The 'k' parameter of REPS must be an int. Got 2.5 instead."),
    (dict(n_reference=2, k=2), ParameterError, r"The 'n_reference' parameter of REPS must be an int in the range \[3"),
    (dict(rng=-1), ParameterError, "The 'rng' parameter of resolve_rng must be a non-negative int seed. Got -1"),
    (dict(rng=1.5), InputTypeError, "The 'rng' parameter of resolve_rng must be None, 'secure', an int"),
    (dict(rng="abc"), InputTypeError, "Got 'abc' instead"),
    (dict(rng=True), InputTypeError, "Got True instead"),
    (dict(rng=np.random.RandomState(0)), InputTypeError, "Got RandomState"),
    (dict(w_min=0.0), ParameterError, r"The 'w_min' parameter of REPS must be a finite number in \(0.0, 1.0\]"),
    (dict(score_fraction=1.0), ParameterError, "The 'score_fraction' parameter of REPS"),
])
def test_bad_sizes_and_seeds_at_construction(kw, exc, match, schema):
    with pytest.raises(exc, match=match):
        _model(schema, **kw)


@pytest.mark.parametrize("n, exc, match", [
    (0, ParameterError, r"The 'n' parameter of REPS.sample must be an int in the range \[1, inf\). Got 0 instead."),
    (-5, ParameterError, "Got -5 instead"),
    (2.5, InputTypeError, "The 'n' parameter of REPS.sample must be an int. Got 2.5 instead."),
    (True, InputTypeError, "Got True instead"),
    ("3", InputTypeError, "Got '3' instead"),
])
def test_bad_sample_sizes(n, exc, match, schema, data, spy):
    model = _model(schema).fit(data)
    spy.clear()
    with pytest.raises(exc, match=match):
        model.sample(n)
    assert spy == []


def test_sample_before_fit(schema):
    with pytest.raises(NotFittedError, match="not fitted yet. Call 'fit'"):
        _model(schema).sample(3)


def test_bad_chunk_rows(schema, data, spy):
    with pytest.raises(ParameterError, match=r"The 'chunk_rows' parameter of REPS.fit must be an int in the range"):
        _model(schema).fit(data, chunk_rows=0)
    assert spy == []


# --- budget ---------------------------------------------------------------------------------------------


def test_spending_past_the_budget_changes_nothing():
    ledger = Budget(epsilon=1.0, delta=1e-6).ledger()
    ledger.spend(ledger.budget.rho / 2, name="first half")
    entries, spent = ledger.entries, ledger.spent
    with pytest.raises(BudgetExceededError, match="would bring the total to .* Nothing was recorded"):
        ledger.spend(ledger.budget.rho, name="too much")
    with pytest.raises(BudgetExceededError, match="above the budget epsilon=1.0"):
        ledger.spend_rdp(np.full(len(DEFAULT_ORDERS), 10.0), name="too much RDP")
    assert ledger.entries == entries and ledger.spent == spent


def test_sampler_accountant_mismatch_is_refused():
    ledger = Budget(epsilon=1.0, delta=1e-6).ledger()
    # the recorded rho under-reports the Gaussian mechanism actually run
    with pytest.raises(PrivacyParameterError, match="under-reports a Gaussian mechanism: sigma=1.0"):
        ledger.spend(1e-4, name="lie", sigma=1.0, sensitivity=1.0)
    # an RDP curve computed on other orders than the ledger's
    with pytest.raises(PrivacyParameterError, match="must have one value per order"):
        ledger.spend_rdp(np.ones(3), name="wrong orders")
    assert ledger.entries == () and ledger.spent == 0.0
    # a sampling rate the accountant cannot have used
    with pytest.raises(PrivacyParameterError, match=r"The 'q' parameter of per_record_epsilon must be"):
        redp.accounting.per_record_epsilon([1.0], 1e-5, dpsgd=(1.5, 1.0, 10))


def test_dpsgd_sampler_weight_mismatch_is_typed():
    from redp.synth.dpsgd import WeightedDPSGD

    opt = WeightedDPSGD(1.0, 1.0, 0.1, 100, influence="sample", rng=0)
    with pytest.raises(RedpError, match="required with influence='sample'"):
        opt.sample_batch(10)
    with pytest.raises(RedpError, match=r"must have shape \(10,\)"):
        opt.sample_batch(10, np.ones(5))


def test_dpsgd_step_with_nan_gradient_is_not_charged():
    from redp.synth.dpsgd import WeightedDPSGD

    opt = WeightedDPSGD(1.0, 1.0, 0.1, 100, rng=0)
    with pytest.raises(ParameterError, match="must be finite. Got a NaN or inf in row 0"):
        opt.step(np.array([[np.nan, 1.0]]), np.ones(1))
    assert opt.steps == 0


# --- the command line ------------------------------------------------------------------------------------


@pytest.fixture
def cli_files(tmp_path, schema):
    schema.to_json(tmp_path / "s.json")

    def csv(name, rows):
        (tmp_path / name).write_text("x,c,i\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))

    csv("good.csv", [(0.1, "Male", 1), (0.5, "Female", 3)] * 10)
    csv("nan.csv", [(0.1, "Male", 1), ("nan", "Female", 2)])
    csv("str.csv", [(0.1, "Male", 1), ("abc", "Female", 2)])
    csv("level.csv", [(0.1, "Male", 1), (0.2, "male", 2)])
    csv("empty.csv", [])
    return tmp_path


CLI_CASES = [
    ("nan", ["nan.csv"], "Column 'x' has a non-finite value (nan) at row 1"),
    ("string", ["str.csv"], "row 3 of"),
    ("level", ["level.csv"], "Column 'c' has value 'male' at row 1"),
    ("0 rows", ["empty.csv"], "the data has 0 rows"),
    ("epsilon 0", ["good.csv", "--epsilon", "0"], "The 'epsilon' parameter of REPS must be a finite number"),
    ("epsilon nan", ["good.csv", "--epsilon", "nan"], "Got nan instead"),
    ("epsilon str", ["good.csv", "--epsilon", "abc"], "argument --epsilon: invalid float value: 'abc'"),
    ("delta 1", ["good.csv", "--delta", "1"], "The 'delta' parameter of REPS"),
    ("n 0", ["good.csv", "--n", "0"], "The 'n' parameter of REPS.sample must be an int in the range [1, inf)"),
    ("seed -1", ["good.csv", "--seed", "-1"], "must be a non-negative int seed. Got -1"),
    ("no input", ["missing.csv"], "No such file or directory"),
    ("bad report dir", ["good.csv", "--report", "nowhere/r.json"], "does not exist. Create it first."),
]


@pytest.mark.parametrize("name, args, message", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_bad_input_returns_2_and_writes_nothing(name, args, message, cli_files, monkeypatch):
    monkeypatch.chdir(cli_files)
    argv = ["synth", args[0], "-o", "out.csv", "--schema", "s.json", "--epsilon", "1", "--delta", "1e-6",
            "--seed", "0", *args[1:]]
    err = io.StringIO()
    with redirect_stderr(err):
        rc = main(argv)
    assert rc == 2
    assert message in err.getvalue()
    leftovers = {p for p in os.listdir(cli_files)} - {"s.json", "good.csv", "nan.csv", "str.csv", "level.csv",
                                                      "empty.csv"}
    assert leftovers == set(), leftovers  # no output, no report, no temporary file


def test_cli_good_input_writes_both_files(cli_files, monkeypatch):
    monkeypatch.chdir(cli_files)
    with redirect_stderr(io.StringIO()):
        rc = main(["synth", "good.csv", "-o", "out.csv", "--schema", "s.json", "--epsilon", "1", "--delta",
                   "1e-6", "--seed", "0", "--report", "r.json"])
    assert rc == 0 and (cli_files / "out.csv").exists() and (cli_files / "r.json").exists()
