"""Schema: column specs, validation errors, encodings, JSON round trip."""

import pickle
import warnings

import numpy as np
import pytest

from redp.data import SCHEMAS, load_schema
from redp.errors import (
    InputTypeError,
    MissingValueError,
    NonPrivateInputWarning,
    OutOfBoundsError,
    SchemaError,
    UnseenCategoryError,
)
from redp.schema import Categorical, Continuous, Integer, Schema, propose_schema


@pytest.fixture
def schema():
    return Schema({
        "age": Integer(17, 90, bins=8),
        "income": Continuous(0.0, 100.0, bins=[10.0, 50.0]),
        "score": Continuous(-1.0, 1.0),
        "sex": Categorical(["F", "M"]),
        "job": Categorical(["a", "b", "c"], missing="?"),
    })


@pytest.fixture
def data(rng):
    n = 200
    return {
        "age": rng.integers(17, 91, n),
        "income": rng.uniform(0, 100, n),
        "score": rng.uniform(-1, 1, n),
        "sex": rng.choice(["F", "M"], n),
        "job": rng.choice(["a", "b", "c", "?"], n),
    }


# -- specs -------------------------------------------------------------------

def test_spec_validation_errors():
    with pytest.raises(SchemaError, match="lower < upper"):
        Continuous(1.0, 1.0)
    with pytest.raises(SchemaError, match="must be finite"):
        Continuous(0.0, np.inf)
    with pytest.raises(SchemaError, match=r"'bins' parameter of Continuous must be an int in the range \[1, inf\)"):
        Continuous(0, 1, bins=0)
    with pytest.raises(SchemaError, match="strictly increasing"):
        Continuous(0, 10, bins=[5, 3])
    with pytest.raises(SchemaError, match="strictly increasing"):
        Continuous(0, 10, bins=[5, 10])
    with pytest.raises(SchemaError, match="whole number"):
        Integer(0.5, 10)
    with pytest.raises(SchemaError, match="unique"):
        Categorical(["a", "a"])
    with pytest.raises(SchemaError, match="str or int"):
        Categorical(["a", 1.5])
    with pytest.raises(SchemaError, match="non-empty dict"):
        Schema({})
    with pytest.raises(SchemaError, match="must be a Continuous, Integer or Categorical"):
        Schema({"x": (0, 1)})


def test_specs_are_frozen_and_normalised():
    c = Continuous(0, 10, bins=[0, 2.5, 5, 10])  # full edges given -> interior cuts kept
    assert c.bins == (2.5, 5.0) and c.cardinality == 3
    np.testing.assert_array_equal(c.edges, [0, 2.5, 5, 10])
    assert Integer(1, 4).cardinality == 4  # 16 bins capped at the 4 integers
    assert Categorical(["x"], missing="?").levels == ("x", "?")
    with pytest.raises(AttributeError):
        c.lower = 3
    s = Schema({"x": c})
    with pytest.raises(AttributeError):
        s.foo = 1
    with pytest.raises(TypeError):
        s.columns["y"] = c


def test_integer_bins_partition_the_integers():
    spec = Integer(17, 90, bins=16)
    starts = spec.bin_starts
    assert starts[0] == 17 and starts[-1] == 91 and np.all(np.diff(starts) >= 4) and np.all(np.diff(starts) <= 5)
    x = np.arange(17, 91)
    codes = spec._codes(x.astype(float))
    # each bin holds exactly the integers in [start_k, start_{k+1})
    np.testing.assert_array_equal(codes, np.searchsorted(starts, x, side="right") - 1)


def test_cardinalities_and_names(schema):
    assert schema.names == ("age", "income", "score", "sex", "job")
    assert schema.cardinalities == (8, 3, 16, 2, 4)
    assert schema.distance_dim == 3 + 2 + 4
    assert schema.categorical_names == ("sex", "job")
    assert schema.numeric_names == ("age", "income", "score")


# -- validate ------------------------------------------------------------------

def test_validate_accepts_dict_dataframe_and_array(schema, data):
    pd = pytest.importorskip("pandas")
    t1, r1 = schema.validate(data)
    t2, _ = schema.validate(pd.DataFrame(data))
    arr = np.empty((200, 5), dtype=object)
    for j, n in enumerate(schema.names):
        arr[:, j] = data[n]
    t3, _ = schema.validate(arr)
    for t in (t2, t3):
        for n in schema.names:
            np.testing.assert_array_equal(t[n], t1[n])
    assert t1["age"].dtype == np.int64 and t1["income"].dtype == np.float64
    assert r1.n_rows == 200 and r1.total_clamped == 0
    assert r1.missing == {"job": 0}


def test_validate_missing_column_and_zero_rows(schema, data):
    del data["sex"]
    with pytest.raises(SchemaError, match=r"lacks column\(s\) \['sex'\]"):
        schema.validate(data)
    empty = {n: np.array([]) for n in schema.names}
    with pytest.raises(SchemaError, match="0 rows"):
        schema.validate(empty)


def test_validate_one_row_is_fine(schema):
    t, _ = schema.validate({"age": [30], "income": [1.0], "score": [0.0], "sex": ["F"], "job": ["a"]})
    assert t["age"].tolist() == [30]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_validate_non_finite_names_column_and_row(schema, data, bad):
    data["score"] = data["score"].copy()
    data["score"][7] = bad
    with pytest.raises(MissingValueError, match=r"Column 'score' has a non-finite value .* at row 7"):
        schema.validate(data)


def test_validate_categorical_missing(schema, data):
    data["sex"] = data["sex"].astype(object)
    data["sex"][3] = None
    with pytest.raises(MissingValueError, match=r"Column 'sex' has a missing value \(NaN/None\) at row 3"):
        schema.validate(data)
    data["sex"][3] = "F"
    data["job"] = data["job"].astype(object)
    data["job"][[1, 4]] = [None, np.nan]
    t, report = schema.validate(data)
    assert t["job"][1] == "?" and t["job"][4] == "?"
    assert report.missing["job"] == 2  # NaN/None mapped; literal "?" values are not counted


def test_validate_unseen_level(schema, data):
    data["sex"] = data["sex"].astype(object)
    data["sex"][11] = "X"
    with pytest.raises(UnseenCategoryError, match=r"Column 'sex' has value 'X' at row 11"):
        schema.validate(data)


def test_validate_clamps_and_counts(schema, data):
    data["income"] = data["income"].copy()
    data["income"][[0, 5, 9]] = [-3.0, 250.0, 100.0]
    data["age"] = data["age"].copy()
    data["age"][2] = 120
    t, report = schema.validate(data)
    assert report.clamped["income"] == 2 and report.clamped["age"] == 1 and report.clamped["score"] == 0
    assert t["income"][0] == 0.0 and t["income"][5] == 100.0 and t["age"][2] == 90
    assert "2 value(s) clamped" in str(report)
    with pytest.raises(OutOfBoundsError, match=r"Column 'age' has value 120.0 at row 2, outside .*\[17, 90\]"):
        schema.validate(data, strict=True)


@pytest.mark.parametrize(
    "column, msg",
    [
        (np.array([1 + 2j] * 200), "Got dtype complex128"),
        (np.array(["12"] * 200), "Got dtype <U2"),
        (np.array([1.0] * 199 + ["x"], dtype=object), r"Got 'x' \(type str\) at row 199"),
    ],
)
def test_validate_wrong_dtypes(schema, data, column, msg):
    data["score"] = column
    with pytest.raises(InputTypeError, match=f"Column 'score' is Continuous in the schema and must hold real numbers. {msg}"):
        schema.validate(data)


def test_validate_integer_needs_whole_numbers(schema, data):
    data["age"] = data["age"] + 0.5
    with pytest.raises(InputTypeError, match="Column 'age' is Integer in the schema and must hold whole numbers"):
        schema.validate(data)


def test_validate_unequal_lengths_and_bad_type(schema, data):
    data["age"] = data["age"][:10]
    with pytest.raises(SchemaError, match="same length"):
        schema.validate(data)
    with pytest.raises(InputTypeError, match="Got list instead"):
        schema.validate([[1, 2]])
    with pytest.raises(SchemaError, match=r"one column per schema column \(5, in schema order\)"):
        schema.validate(np.zeros((3, 2)))


def test_categorical_integer_levels_accept_floats():
    s = Schema({"c": Categorical([0, 1])})
    t, _ = s.validate({"c": np.array([1.0, 0.0, 1.0])})
    assert t["c"].tolist() == [1, 0, 1]
    with pytest.raises(UnseenCategoryError, match="has value 2"):
        s.validate({"c": np.array([2, 0])})


# -- encodings -----------------------------------------------------------------

def test_encode_marginal_matches_digitize(schema, data):
    t, _ = schema.validate(data)
    codes = schema.encode_marginal(t)
    assert codes.dtype == np.int32 and codes.flags.c_contiguous and codes.shape == (200, 5)
    np.testing.assert_array_equal(codes[:, 1], np.digitize(t["income"], [10.0, 50.0]))
    ref = np.minimum(np.floor((t["score"] + 1) / 2 * 16), 15)
    np.testing.assert_array_equal(codes[:, 2], ref)
    np.testing.assert_array_equal(codes[:, 3], (t["sex"] == "M").astype(int))
    edge = schema.encode_marginal({**{k: v[:2] for k, v in t.items()}, "score": np.array([-1.0, 1.0])})
    assert edge[:, 2].tolist() == [0, 15]  # both bounds inside the end bins
    assert np.all(codes < np.array(schema.cardinalities))


def test_decode_then_encode_is_identity(schema, rng):
    card = np.array(schema.cardinalities)
    codes = (rng.random((500, 5)) * card).astype(np.int64)
    table = schema.decode_marginal(codes, rng=rng)
    assert table["age"].dtype == np.int64 and table["income"].dtype == np.float64
    assert table["age"].min() >= 17 and table["age"].max() <= 90
    np.testing.assert_array_equal(schema.encode_marginal(table), codes)
    with pytest.raises(ValueError, match="codes must satisfy"):
        schema.decode_marginal(codes + card, rng=0)
    with pytest.raises(InputTypeError, match="must be an integer array of shape"):
        schema.decode_marginal(codes.astype(float), rng=0)


def test_decode_integer_covers_every_value_of_a_bin(rng):
    s = Schema({"x": Integer(0, 9, bins=2)})
    x = s.decode_marginal(np.zeros((4000, 1), dtype=np.int64), rng=rng)["x"]
    assert sorted(set(x.tolist())) == [0, 1, 2, 3, 4]
    counts = np.bincount(x)
    assert counts.min() > 650  # ~800 each: uniform within the bin


def test_encode_distance(schema, data):
    t, _ = schema.validate(data)
    x = schema.encode_distance(t)
    assert x.dtype == np.float32 and x.flags.c_contiguous and x.shape == (200, schema.distance_dim)
    np.testing.assert_allclose(x[:, 0], (t["age"] - 17) / 73, rtol=1e-6)
    np.testing.assert_allclose(x[:, 2], (t["score"] + 1) / 2, rtol=1e-6)
    onehot = x[:, 3:5]
    np.testing.assert_allclose(onehot.sum(axis=1), np.full(200, 1 / np.sqrt(2)), rtol=1e-6)
    # a categorical mismatch costs exactly distance 1
    f = schema.encode_distance({**{k: v[:1] for k, v in t.items()}, "sex": np.array(["F"])})
    m = schema.encode_distance({**{k: v[:1] for k, v in t.items()}, "sex": np.array(["M"])})
    assert abs(float(np.linalg.norm(f - m)) - 1.0) < 1e-6


def test_encode_decode_mixed(schema, data):
    t, _ = schema.validate(data)
    cat, cont = schema.encode_mixed(t)
    assert cat.dtype == np.int64 and cat.shape == (200, 2)
    assert cont.dtype == np.float64 and cont.shape == (200, 3) and cont.min() >= 0 and cont.max() <= 1
    back = schema.decode_mixed(cat, cont)
    assert list(back) == list(schema.names)
    for n in schema.names:
        if back[n].dtype.kind == "f":
            np.testing.assert_allclose(back[n], t[n])
        else:
            np.testing.assert_array_equal(back[n], t[n])
    with pytest.raises(InputTypeError, match=r"cat_codes of shape \(n, 2\)"):
        schema.decode_mixed(cat[:, :1], cont)


# -- serialisation -------------------------------------------------------------

def test_json_round_trip(schema, tmp_path):
    text = schema.to_json()
    assert Schema.from_json(text) == schema
    assert Schema.from_dict(schema.to_dict()) == schema
    path = tmp_path / "s.json"
    schema.to_json(path)
    again = Schema.from_json(str(path))
    assert again == schema and again.names == schema.names
    assert again.columns["income"].bins == (10.0, 50.0)
    assert pickle.loads(pickle.dumps(schema)) == schema
    assert hash(again) == hash(schema)


def test_json_errors():
    with pytest.raises(SchemaError, match="could not be parsed"):
        Schema.from_json("{not json")
    with pytest.raises(SchemaError, match="needs 'type'"):
        Schema.from_dict({"columns": [{"name": "x", "type": "float"}]})
    with pytest.raises(SchemaError, match="appears twice"):
        Schema.from_dict({"columns": [{"name": "x", "type": "categorical", "levels": ["a"]}] * 2})
    with pytest.raises(SchemaError, match="Unsupported schema version"):
        Schema.from_dict({"version": 9, "columns": []})


@pytest.mark.parametrize("name", SCHEMAS)
def test_packaged_schemas_load(name):
    s = load_schema(name)
    assert len(s.names) == {"adult": 15, "german_credit": 21, "breast_cancer": 31}[name]
    assert Schema.from_json(s.to_json()) == s


# -- propose_schema ------------------------------------------------------------

def test_propose_schema_warns_and_reads_bounds():
    data = {"age": np.array([23, 40, 61]), "r": np.array([0.5, 1.5, 2.0]),
            "c": np.array(["x", None, "y"], dtype=object)}
    with pytest.warns(NonPrivateInputWarning, match="NOT differentially private"):
        s = propose_schema(data, bins=4)
    assert s.columns["age"] == Integer(23, 61, bins=4)
    assert s.columns["r"] == Continuous(0.5, 2.0, bins=4)
    assert s.columns["c"] == Categorical(["x", "y"], missing="<missing>")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s.validate(data)  # the proposal accepts its own data


def test_propose_schema_numpy_array_and_constant_column():
    with pytest.warns(NonPrivateInputWarning):
        s = propose_schema(np.array([[1.0, 5.0], [1.0, 6.5]]))
    assert s.names == ("x0", "x1") and s.columns["x0"] == Integer(1, 2)


def test_validated_table_is_revalidated_for_free_and_read_only():
    import pickle

    from redp.errors import MissingValueError
    from redp.schema import ValidatedTable

    s = Schema({"x": Continuous(0, 1), "c": Categorical(["a", "b"])})
    t, report = s.validate({"x": [0.5, 2.0], "c": ["a", "b"]})
    assert isinstance(t, ValidatedTable) and report.clamped == {"x": 1}
    again, _ = s.validate(t)
    assert again is t
    with pytest.raises(TypeError, match="read-only"):
        t["x"] = np.array([0.1, 0.2])
    with pytest.raises(ValueError, match="read-only"):
        t["x"][0] = np.nan
    copy = dict(t)
    copy["x"] = np.array([np.nan, 0.2])
    with pytest.raises(MissingValueError):
        s.validate(copy)
    other = Schema({"x": Continuous(0, 10), "c": Categorical(["a", "b"])})
    assert other.validate(t)[0] is not t  # a different schema checks again
    restored = pickle.loads(pickle.dumps(t))
    assert isinstance(restored, ValidatedTable) and s.validate(restored)[0] is restored
