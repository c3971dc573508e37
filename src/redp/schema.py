"""Public column specifications and the encodings every synthesizer shares.

A :class:`Schema` holds only **public knowledge**: bounds of numeric columns,
levels of categorical ones, and the bins used to discretise numeric columns for
marginals. Nothing in a schema may be read silently off the private data; the
one helper that does so, :func:`propose_schema`, says loudly that its output is
not private.

Three encodings are derived from a schema:

* distances (:meth:`Schema.encode_distance`): numeric ``(x - lower) / (upper -
  lower)``, categorical one-hot scaled by ``1/sqrt(2)`` so a mismatch costs
  distance 1; float32, C order.
* marginals (:meth:`Schema.encode_marginal` / :meth:`Schema.decode_marginal`):
  one integer code per column (public bin or level index).
* mixed (:meth:`Schema.encode_mixed` / :meth:`Schema.decode_mixed`): level
  indices of the categorical columns and ``[0, 1]`` positions of the numeric
  ones, for the mixture synthesizer.

Examples
--------
>>> import numpy as np
>>> from redp.schema import Schema, Continuous, Integer, Categorical
>>> schema = Schema({"age": Integer(17, 90, bins=4),
...                  "income": Continuous(0.0, 1e5),
...                  "sex": Categorical(["F", "M"])})
>>> schema.cardinalities
(4, 16, 2)
>>> table, report = schema.validate({"age": [20, 95], "income": [5e4, 1e3],
...                                  "sex": ["F", "M"]})
>>> report.clamped["age"]
1
>>> schema.encode_marginal(table)
array([[0, 8, 0],
       [3, 0, 1]], dtype=int32)
>>> Schema.from_json(schema.to_json()) == schema
True
"""

from __future__ import annotations

import json
import math
import numbers
import types
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._validation import as_generator, check_int
from .errors import (
    InputTypeError,
    MissingValueError,
    NonPrivateInputWarning,
    OutOfBoundsError,
    ParameterError,
    SchemaError,
    UnseenCategoryError,
)

__all__ = [
    "Continuous",
    "Integer",
    "Categorical",
    "Schema",
    "ValidatedTable",
    "ValidationReport",
    "propose_schema",
]

_SCHEMA_VERSION = 1


# --------------------------------------------------------------------------
# column specs
# --------------------------------------------------------------------------


def _check_bound(value, name: str, func: str, integer: bool = False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise SchemaError(f"The '{name}' parameter of {func} must be a real number. Got {value!r} instead.")
    if integer:
        if not float(value).is_integer():
            raise SchemaError(f"The '{name}' parameter of {func} must be a whole number. Got {value!r} instead.")
        return int(value)
    value = float(value)
    if not math.isfinite(value):
        raise SchemaError(f"The '{name}' parameter of {func} must be finite. Got {value!r} instead.")
    return value


def _check_bins(bins, lower, upper, func: str, integer: bool):
    """Normalise ``bins`` to an int (equal width) or a tuple of interior cut points."""
    if isinstance(bins, numbers.Integral) and not isinstance(bins, (bool, np.bool_)):
        try:
            return check_int(bins, "bins", func, low=1)
        except ValueError as exc:  # out of range
            raise SchemaError(str(exc)) from None
    try:
        cuts = np.asarray(bins, dtype=np.float64)
    except (TypeError, ValueError):
        raise SchemaError(
            f"The 'bins' parameter of {func} must be an int >= 1 or a sorted sequence of cut points. "
            f"Got {bins!r} instead."
        ) from None
    if cuts.ndim != 1 or cuts.size == 0 or not np.all(np.isfinite(cuts)):
        raise SchemaError(
            f"The 'bins' parameter of {func} must be an int >= 1 or a non-empty 1-D sequence of finite "
            f"cut points. Got {bins!r} instead."
        )
    end = upper + 1 if integer else upper  # integer edges: the last bin ends before upper + 1
    if cuts.size >= 2 and cuts[0] == lower and cuts[-1] == end:
        cuts = cuts[1:-1]  # full edges given: keep the interior ones
    if np.any(np.diff(cuts) <= 0) or np.any(cuts <= lower) or np.any(cuts > upper if integer else cuts >= upper):
        raise SchemaError(
            f"The 'bins' cut points of {func} must be strictly increasing and lie strictly inside "
            f"(lower, upper) = ({lower}, {upper}). Got {bins!r} instead."
        )
    if integer and not np.all(cuts == np.round(cuts)):
        raise SchemaError(f"The 'bins' cut points of {func} must be whole numbers. Got {bins!r} instead.")
    return tuple(int(c) if integer else float(c) for c in cuts)


@dataclass(frozen=True)
class Continuous:
    """A real-valued column with PUBLIC bounds.

    Parameters
    ----------
    lower, upper : float
        Public bounds, ``lower < upper``. Values outside are clamped during
        :meth:`Schema.validate` (and counted for the curator).
    bins : int or sequence of float, default 16
        Discretisation for marginals: an int gives that many equal-width bins on
        ``[lower, upper]``; a sorted sequence gives the interior cut points
        (``lower`` and ``upper`` may be included as the outer edges).

    Examples
    --------
    >>> Continuous(0, 10, bins=[2.5, 5]).edges
    array([ 0. ,  2.5,  5. , 10. ])
    """

    lower: float
    upper: float
    bins: int | tuple = 16

    kind = "continuous"

    def __post_init__(self):
        lo = _check_bound(self.lower, "lower", "Continuous")
        hi = _check_bound(self.upper, "upper", "Continuous")
        if not lo < hi:
            raise SchemaError(f"Continuous needs lower < upper. Got lower={lo!r}, upper={hi!r} instead.")
        bins = _check_bins(self.bins, lo, hi, "Continuous", integer=False)
        n_bins = bins if isinstance(bins, int) else len(bins) + 1
        if not (math.isfinite(hi - lo) and math.isfinite(n_bins / (hi - lo))):
            # an infinite or subnormal span would turn values into NaN bin codes and encodings
            raise SchemaError(
                f"Continuous needs a finite, non-tiny span upper - lower (at most ~1.7e308, and "
                f"{n_bins} bins / span must be finite). Got lower={lo!r}, upper={hi!r} instead. "
                f"Rescale the column (e.g. to other units) first."
            )
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)
        object.__setattr__(self, "bins", bins)

    @property
    def cardinality(self) -> int:
        """Number of marginal cells (bins)."""
        return self.bins if isinstance(self.bins, int) else len(self.bins) + 1

    @property
    def edges(self) -> np.ndarray:
        """Bin edges, ``cardinality + 1`` floats from ``lower`` to ``upper``."""
        if isinstance(self.bins, int):
            return np.linspace(self.lower, self.upper, self.bins + 1)
        return np.concatenate([[self.lower], np.asarray(self.bins, dtype=np.float64), [self.upper]])

    def _codes(self, x: np.ndarray) -> np.ndarray:
        if isinstance(self.bins, int):
            c = np.floor((x - self.lower) * (self.bins / (self.upper - self.lower)))
            return np.clip(c, 0, self.bins - 1).astype(np.int32)
        return np.searchsorted(np.asarray(self.bins), x, side="right").astype(np.int32)

    def _decode(self, codes: np.ndarray, gen: np.random.Generator) -> np.ndarray:
        e = self.edges
        lo, hi = e[codes], e[codes + 1]
        return np.minimum(lo + gen.random(codes.shape[0]) * (hi - lo), self.upper)

    def to_dict(self) -> dict:
        return {"type": self.kind, "lower": self.lower, "upper": self.upper,
                "bins": self.bins if isinstance(self.bins, int) else list(self.bins)}


@dataclass(frozen=True)
class Integer:
    """A whole-number column with PUBLIC bounds (decodes to ints).

    Parameters
    ----------
    lower, upper : int
        Public bounds, ``lower < upper``.
    bins : int or sequence of int, default 16
        An int gives that many bins of (as nearly as possible) equal numbers of
        integers, capped at ``upper - lower + 1`` (one bin per value); a sorted
        sequence gives interior cut points ``c`` (a bin starts at each ``c``).

    Examples
    --------
    >>> Integer(1, 4).cardinality
    4
    >>> Integer(0, 99, bins=[10, 50]).bin_starts
    array([  0,  10,  50, 100])
    """

    lower: int
    upper: int
    bins: int | tuple = 16

    kind = "integer"

    def __post_init__(self):
        lo = _check_bound(self.lower, "lower", "Integer", integer=True)
        hi = _check_bound(self.upper, "upper", "Integer", integer=True)
        if not lo < hi:
            raise SchemaError(f"Integer needs lower < upper. Got lower={lo!r}, upper={hi!r} instead.")
        if lo < -(2**53) or hi > 2**53:
            # values are handled in float64: beyond 2^53 distinct integers would collide
            raise SchemaError(
                f"Integer bounds must lie within [-2**53, 2**53] so every value is exact in float64. "
                f"Got lower={lo!r}, upper={hi!r} instead. Use Continuous for wider ranges."
            )
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)
        bins = _check_bins(self.bins, lo, hi, "Integer", integer=True)
        if isinstance(bins, int):
            bins = min(bins, hi - lo + 1)
        object.__setattr__(self, "bins", bins)

    @property
    def cardinality(self) -> int:
        return self.bins if isinstance(self.bins, int) else len(self.bins) + 1

    @property
    def bin_starts(self) -> np.ndarray:
        """First integer of each bin, plus ``upper + 1`` at the end (int64)."""
        if isinstance(self.bins, int):
            span = self.upper - self.lower + 1
            k = np.arange(self.bins + 1, dtype=np.int64)
            return self.lower + (k * span + self.bins - 1) // self.bins  # ceil(k * span / bins)
        return np.array([self.lower, *self.bins, self.upper + 1], dtype=np.int64)

    def _codes(self, x: np.ndarray) -> np.ndarray:
        return (np.searchsorted(self.bin_starts[1:-1], x, side="right")).astype(np.int32)

    def _decode(self, codes: np.ndarray, gen: np.random.Generator) -> np.ndarray:
        s = self.bin_starts
        lo, size = s[codes], s[codes + 1] - s[codes]
        return lo + np.floor(gen.random(codes.shape[0]) * size).astype(np.int64)

    def to_dict(self) -> dict:
        return {"type": self.kind, "lower": self.lower, "upper": self.upper,
                "bins": self.bins if isinstance(self.bins, int) else list(self.bins)}


_LEVEL_TYPES = (str, numbers.Integral)


@dataclass(frozen=True)
class Categorical:
    """A column with a PUBLIC list of levels.

    Parameters
    ----------
    levels : sequence of str or int
        The public levels, unique. Values not among them are an error
        (:class:`~redp.errors.UnseenCategoryError`).
    missing : str or int, optional
        A level that NaN/None map to. Appended to ``levels`` if absent. Without
        it, a missing value is a :class:`~redp.errors.MissingValueError`.

    Examples
    --------
    >>> Categorical(["a", "b"], missing="?").levels
    ('a', 'b', '?')
    """

    levels: tuple
    missing: str | int | None = None

    kind = "categorical"

    def __post_init__(self):
        if isinstance(self.levels, (str, bytes)) or not hasattr(self.levels, "__iter__"):
            raise SchemaError(f"The 'levels' parameter of Categorical must be a sequence. Got {self.levels!r} instead.")
        levels = []
        for v in self.levels:
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, bool) or not isinstance(v, _LEVEL_TYPES):
                raise SchemaError(
                    f"Categorical levels must be str or int (JSON-safe). Got {v!r} of type {type(v).__name__} instead."
                )
            levels.append(v)
        if self.missing is not None:
            if isinstance(self.missing, bool) or not isinstance(self.missing, _LEVEL_TYPES):
                raise SchemaError(f"The 'missing' parameter of Categorical must be a str or int. Got {self.missing!r} instead.")
            if self.missing not in levels:
                levels.append(self.missing)
        if not levels:
            raise SchemaError("Categorical needs at least one level. Got an empty list instead.")
        if len(set(levels)) != len(levels):
            dup = next(v for v in levels if levels.count(v) > 1)
            raise SchemaError(f"Categorical levels must be unique. Got {dup!r} more than once.")
        object.__setattr__(self, "levels", tuple(levels))

    @property
    def cardinality(self) -> int:
        return len(self.levels)

    def to_dict(self) -> dict:
        d = {"type": self.kind, "levels": list(self.levels)}
        if self.missing is not None:
            d["missing"] = self.missing
        return d


_SPECS = {"continuous": Continuous, "integer": Integer, "categorical": Categorical}
_NUMERIC = (Continuous, Integer)


def _spec_from_dict(d: dict):
    if not isinstance(d, dict) or d.get("type") not in _SPECS:
        raise SchemaError(f"A column spec needs 'type' in {sorted(_SPECS)}. Got {d!r} instead.")
    kw = {k: v for k, v in d.items() if k not in ("type", "name")}
    try:
        return _SPECS[d["type"]](**kw)
    except TypeError as exc:
        raise SchemaError(f"Invalid {d['type']} column spec {d!r}: {exc}") from None


# --------------------------------------------------------------------------
# input handling
# --------------------------------------------------------------------------


class ValidatedTable(dict):
    """The table :meth:`Schema.validate` returns: read-only columns, already checked.

    Validating it again against the same schema is free (the pipeline, the
    scorers and the synthesizers all accept raw data and validate it; this is
    what keeps that from costing one full pass each). Columns are read-only so
    the checks stay true; ``dict(table)`` gives an ordinary, editable copy,
    which is validated again when used.

    >>> t, _ = Schema({"x": Continuous(0, 1)}).validate({"x": [0.5]})
    >>> t["x"] = [2.0]
    Traceback (most recent call last):
    ...
    TypeError: A validated table is read-only: copy it with dict(table) to change it.
    """

    __slots__ = ("schema",)

    def __init__(self, columns: dict, schema):
        super().__init__(columns)
        self.schema = schema
        for column in columns.values():
            column.flags.writeable = False

    def _read_only(self, *args, **kwargs):
        raise TypeError("A validated table is read-only: copy it with dict(table) to change it.")

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _read_only

    def __reduce__(self):
        return (ValidatedTable, (dict(self), self.schema))


@dataclass
class ValidationReport:
    """What :meth:`Schema.validate` changed. Reads the private data: curator only, not DP.

    Attributes
    ----------
    n_rows : int
    clamped : dict of str to int
        Per numeric column, how many values were clamped into the public bounds.
    missing : dict of str to int
        Per categorical column with a ``missing`` level, how many NaN/None values
        were mapped to it.
    """

    n_rows: int
    clamped: dict = field(default_factory=dict)
    missing: dict = field(default_factory=dict)

    @property
    def total_clamped(self) -> int:
        return int(sum(self.clamped.values()))

    def __str__(self) -> str:
        lines = [f"{self.n_rows} rows (curator-only report: reads the private data, not DP)"]
        for k, v in self.clamped.items():
            if v:
                lines.append(f"  {k}: {v} value(s) clamped into the public bounds")
        for k, v in self.missing.items():
            if v:
                lines.append(f"  {k}: {v} missing value(s) mapped to the missing level")
        return "\n".join(lines)


def _columns_of(data, names: tuple, func: str) -> dict:
    """Columns of a DataFrame / mapping / 2-D array as 1-D arrays (no copies where possible)."""
    if hasattr(data, "columns") and hasattr(data, "__getitem__") and not isinstance(data, np.ndarray):
        present = [str(c) for c in data.columns]
        missing = [n for n in names if n not in present]
        if missing:
            raise SchemaError(
                f"{func}: the data lacks column(s) {missing} required by the schema. Got columns {present} instead."
            )
        return {n: np.asarray(data[n].to_numpy() if hasattr(data[n], "to_numpy") else data[n]) for n in names}
    if isinstance(data, dict) or isinstance(data, types.MappingProxyType):
        missing = [n for n in names if n not in data]
        if missing:
            raise SchemaError(
                f"{func}: the data lacks column(s) {missing} required by the schema. Got columns {list(data)} instead."
            )
        out = {}
        for n in names:
            v = data[n]
            out[n] = np.asarray(v.to_numpy() if hasattr(v, "to_numpy") else v)
            if out[n].ndim != 1:
                raise InputTypeError(f"{func}: column '{n}' must be 1-D. Got shape {out[n].shape} instead.")
        lens = {n: len(a) for n, a in out.items()}
        if len(set(lens.values())) > 1:
            raise SchemaError(f"{func}: all columns must have the same length. Got lengths {lens} instead.")
        return out
    if isinstance(data, np.ndarray):
        if data.ndim != 2 or data.shape[1] != len(names):
            raise SchemaError(
                f"{func}: a numpy array must be 2-D with one column per schema column ({len(names)}, in "
                f"schema order). Got shape {data.shape} instead."
            )
        return {n: data[:, j] for j, n in enumerate(names)}
    raise InputTypeError(
        f"{func}: data must be a pandas DataFrame, a dict of arrays or a 2-D numpy array. "
        f"Got {type(data).__name__} instead."
    )


def _missing_mask(a: np.ndarray) -> np.ndarray | None:
    """Boolean mask of NaN/None (None if the dtype cannot hold a missing value)."""
    if a.dtype.kind == "f":
        return np.isnan(a)
    if a.dtype.kind == "O":
        try:
            import pandas as pd

            return np.asarray(pd.isna(a), dtype=bool)
        except ImportError:
            return np.fromiter((v is None or (isinstance(v, float) and v != v) for v in a), bool, a.size)
    return None


def _factorize(a: np.ndarray):
    """(uniques, inverse) with any hashable dtype; pandas' hash factorize when available."""
    try:
        import pandas as pd

        codes, uniques = pd.factorize(a, use_na_sentinel=False)
        return np.asarray(uniques, dtype=object), codes
    except ImportError:
        uniques, inv = np.unique(a.astype(str) if a.dtype.kind == "O" else a, return_inverse=True)
        return uniques, inv


def _level_index(name: str, spec: Categorical, a: np.ndarray, func: str, counts: dict | None = None) -> np.ndarray:
    """Level index of every value; raises UnseenCategoryError / MissingValueError.

    ``counts[name]`` receives the number of NaN/None values mapped to the missing level.
    """
    lookup = {v: i for i, v in enumerate(spec.levels)}
    miss = _missing_mask(a)
    if counts is not None and spec.missing is not None:
        counts[name] = 0 if miss is None else int(np.count_nonzero(miss))
    if miss is not None and miss.any():
        if spec.missing is None:
            row = int(np.argmax(miss))
            raise MissingValueError(
                f"Column '{name}' has a missing value (NaN/None) at row {row} and its schema declares no "
                f"missing level. Clean the data or declare Categorical(..., missing='<level>')."
            )
        a = a.astype(object, copy=True)
        a[miss] = spec.missing
    uniques, inv = _factorize(a)
    mapped = np.empty(len(uniques), dtype=np.int32)
    for i, u in enumerate(uniques):
        key = u.item() if isinstance(u, np.generic) else u
        if isinstance(key, float) and key.is_integer():
            key = int(key)
        idx = lookup.get(key)
        if idx is None:
            row = int(np.argmax(inv == i))
            raise UnseenCategoryError(
                f"Column '{name}' has value {key!r} at row {row}, which is not among its public levels "
                f"{list(spec.levels)[:10]}{'...' if len(spec.levels) > 10 else ''}. Add the level to the schema "
                f"(it must be public knowledge) or recode the data."
            )
        mapped[i] = idx
    return mapped[inv]


def _numeric(name: str, spec, a: np.ndarray, func: str) -> np.ndarray:
    kind = a.dtype.kind
    if kind in "iub":
        x = a.astype(np.float64)
    elif kind == "f":
        x = a.astype(np.float64, copy=False)
    elif kind == "O":
        try:
            x = a.astype(np.float64)
        except (TypeError, ValueError):
            bad = next((i for i, v in enumerate(a)
                        if not isinstance(v, numbers.Real) and v is not None), 0)
            raise InputTypeError(
                f"Column '{name}' is {type(spec).__name__} in the schema and must hold real numbers. Got "
                f"{a[bad]!r} (type {type(a[bad]).__name__}) at row {bad} instead."
            ) from None
    else:
        raise InputTypeError(
            f"Column '{name}' is {type(spec).__name__} in the schema and must hold real numbers. Got dtype "
            f"{a.dtype} (first value {a[0]!r}) instead."
        )
    finite = np.isfinite(x)
    if not finite.all():
        row = int(np.argmax(~finite))
        raise MissingValueError(
            f"Column '{name}' has a non-finite value ({x[row].item()!r}) at row {row}. Numeric columns cannot hold "
            f"NaN or inf; drop or impute those rows first."
        )
    return x


# --------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------


class Schema:
    """An ordered, frozen mapping of column names to public column specs.

    Parameters
    ----------
    columns : dict of str to Continuous, Integer or Categorical

    Attributes
    ----------
    names : tuple of str
        Column names in schema order.
    columns : mapping
        Read-only ``name -> spec``.
    cardinalities : tuple of int
        Marginal cells per column (bins or levels), in schema order.
    distance_dim : int
        Width of :meth:`encode_distance`.

    Examples
    --------
    >>> s = Schema({"x": Continuous(0, 1, bins=4), "c": Categorical(["a", "b", "c"])})
    >>> s.names, s.cardinalities, s.distance_dim
    (('x', 'c'), (4, 3), 4)
    """

    __slots__ = ("_columns", "_names")

    def __init__(self, columns):
        if not isinstance(columns, dict) or not columns:
            raise SchemaError(
                f"The 'columns' parameter of Schema must be a non-empty dict of name -> spec. Got {columns!r} instead."
            )
        for name, spec in columns.items():
            if not isinstance(name, str) or not name:
                raise SchemaError(f"Schema column names must be non-empty str. Got {name!r} instead.")
            if not isinstance(spec, (Continuous, Integer, Categorical)):
                raise SchemaError(
                    f"Column '{name}' must be a Continuous, Integer or Categorical spec. Got {spec!r} instead."
                )
        object.__setattr__(self, "_columns", types.MappingProxyType(dict(columns)))
        object.__setattr__(self, "_names", tuple(columns))

    def __setattr__(self, key, value):
        raise AttributeError("Schema is frozen")

    def __reduce__(self):  # pickle/copy through the public constructor
        return (Schema, (dict(self._columns),))

    @property
    def names(self) -> tuple:
        return self._names

    @property
    def columns(self):
        return self._columns

    @property
    def cardinalities(self) -> tuple:
        return tuple(s.cardinality for s in self._columns.values())

    @property
    def distance_dim(self) -> int:
        return sum(s.cardinality if isinstance(s, Categorical) else 1 for s in self._columns.values())

    @property
    def categorical_names(self) -> tuple:
        """Names of categorical columns, in schema order (the mixed encoding's first block)."""
        return tuple(n for n, s in self._columns.items() if isinstance(s, Categorical))

    @property
    def numeric_names(self) -> tuple:
        """Names of continuous and integer columns, in schema order."""
        return tuple(n for n, s in self._columns.items() if isinstance(s, _NUMERIC))

    def __len__(self) -> int:
        return len(self._names)

    def __eq__(self, other) -> bool:
        return isinstance(other, Schema) and self._names == other._names and dict(self._columns) == dict(other._columns)

    def __hash__(self):
        return hash(tuple(self._columns.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {s!r}" for n, s in self._columns.items())
        return f"Schema({{{inner}}})"

    # -- serialisation ----------------------------------------------------

    def to_dict(self) -> dict:
        """A JSON-safe dict ``{"version": 1, "columns": [{"name": ..., "type": ..., ...}]}``."""
        return {"version": _SCHEMA_VERSION,
                "columns": [{"name": n, **s.to_dict()} for n, s in self._columns.items()]}

    @classmethod
    def from_dict(cls, d: dict) -> "Schema":
        """Inverse of :meth:`to_dict`."""
        if not isinstance(d, dict) or not isinstance(d.get("columns"), list):
            raise SchemaError(f"A schema dict needs a 'columns' list. Got {type(d).__name__} instead.")
        if d.get("version", _SCHEMA_VERSION) != _SCHEMA_VERSION:
            raise SchemaError(f"Unsupported schema version {d.get('version')!r}; this redp reads version {_SCHEMA_VERSION}.")
        cols = {}
        for c in d["columns"]:
            if not isinstance(c, dict) or "name" not in c:
                raise SchemaError(f"Every column entry needs a 'name'. Got {c!r} instead.")
            if c["name"] in cols:
                raise SchemaError(f"Column '{c['name']}' appears twice in the schema.")
            cols[c["name"]] = _spec_from_dict(c)
        return cls(cols)

    def to_json(self, path=None, *, indent: int = 2) -> str:
        """Serialise to a JSON string (and write it to ``path`` if given)."""
        text = json.dumps(self.to_dict(), indent=indent)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return text

    @classmethod
    def from_json(cls, text_or_path) -> "Schema":
        """Read a schema from a JSON string or a path to a JSON file."""
        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            with open(text, encoding="utf-8") as fh:
                text = fh.read()
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"Schema JSON could not be parsed: {exc}") from None
        return cls.from_dict(d)

    # -- validation ---------------------------------------------------------

    def validate(self, data, *, strict: bool = False):
        """Check ``data`` against the schema and return a clean table.

        Parameters
        ----------
        data : pandas.DataFrame, dict of array-like, or 2-D numpy array
            A 2-D array must have the columns in schema order. Extra columns of a
            DataFrame or dict are ignored.
        strict : bool, default False
            If True, out-of-bounds values raise
            :class:`~redp.errors.OutOfBoundsError` instead of being clamped.

        Returns
        -------
        table : ValidatedTable (a read-only dict of str to ndarray)
            float64 for continuous, int64 for integer columns (clamped to the
            bounds), and the level values (an array of the levels' type) for
            categorical columns.
        report : ValidationReport
            Clamping and missing-level counts per column. It reads the private
            data and is for the curator only (not DP).

        Raises
        ------
        SchemaError
            Missing columns, or zero rows.
        InputTypeError
            A numeric column holds strings, complex numbers or other non-reals.
        MissingValueError
            NaN/inf in a numeric column, or NaN/None in a categorical column
            without a declared missing level (names the column and first row).
        UnseenCategoryError
            A categorical value outside the public levels (names column, value, row).
        OutOfBoundsError
            ``strict=True`` and a value lies outside its bounds.

        Examples
        --------
        >>> s = Schema({"x": Continuous(0, 1), "c": Categorical(["a"], missing="?")})
        >>> t, r = s.validate({"x": [0.5, 2.0], "c": ["a", None]})
        >>> t["x"].tolist(), t["c"].tolist(), r.clamped, r.missing
        ([0.5, 1.0], ['a', '?'], {'x': 1}, {'c': 1})
        """
        func = "Schema.validate"
        if isinstance(data, ValidatedTable) and data.schema == self:
            return data, ValidationReport(n_rows=len(next(iter(data.values()))))  # checked when it was made
        cols = _columns_of(data, self._names, func)
        n = len(next(iter(cols.values())))
        if n == 0:
            raise SchemaError(f"{func}: the data has 0 rows; at least one row is needed.")
        table, report = {}, ValidationReport(n_rows=n)
        for name, spec in self._columns.items():
            a = cols[name]
            if a.ndim != 1:
                raise InputTypeError(f"{func}: column '{name}' must be 1-D. Got shape {a.shape} instead.")
            if isinstance(spec, Categorical):
                idx = _level_index(name, spec, a, func, report.missing)
                table[name] = _level_array(spec)[idx]
                continue
            x = _numeric(name, spec, a, func)
            out = (x < spec.lower) | (x > spec.upper)
            n_out = int(np.count_nonzero(out))
            if n_out and strict:
                row = int(np.argmax(out))
                raise OutOfBoundsError(
                    f"Column '{name}' has value {x[row].item()!r} at row {row}, outside its public bounds "
                    f"[{spec.lower}, {spec.upper}] ({n_out} value(s) out of bounds). Use strict=False to clamp."
                )
            x = np.clip(x, spec.lower, spec.upper)
            if isinstance(spec, Integer):
                frac = x != np.round(x)
                if frac.any():
                    row = int(np.argmax(frac))
                    raise InputTypeError(
                        f"Column '{name}' is Integer in the schema and must hold whole numbers. Got {x[row].item()!r} "
                        f"at row {row} instead."
                    )
                x = x.astype(np.int64)
            table[name] = x
            report.clamped[name] = n_out
        return ValidatedTable(table, self), report

    def _table(self, table, func):
        """Columns of ``table`` (a validated table or anything validate() accepts), unchecked values."""
        cols = _columns_of(table, self._names, func)
        if len(next(iter(cols.values()))) == 0:
            raise SchemaError(f"{func}: the data has 0 rows; at least one row is needed.")
        return cols

    def _level_codes(self, name, spec, a):
        return _level_index(name, spec, np.asarray(a), "encode")

    def _unit(self, name, spec, a, func):
        """Numeric column checked (dtype, finite), clamped and mapped to [0, 1]."""
        x = np.clip(_numeric(name, spec, np.asarray(a), func), spec.lower, spec.upper)
        return x, (x - spec.lower) / (spec.upper - spec.lower)

    # -- encodings ----------------------------------------------------------

    def encode_distance(self, table) -> np.ndarray:
        """Encode for distances: float32 ``(n, distance_dim)``, C order.

        Numeric columns map to ``(x - lower) / (upper - lower)``; categorical
        columns to one-hot vectors scaled by ``1/sqrt(2)`` (a mismatch costs 1).

        Examples
        --------
        >>> s = Schema({"x": Continuous(0, 4), "c": Categorical(["a", "b"])})
        >>> s.encode_distance({"x": np.array([1.0]), "c": np.array(["b"])})
        array([[0.25      , 0.        , 0.70710677]], dtype=float32)
        """
        table = self._table(table, "encode_distance")
        n = len(table[self._names[0]])
        out = np.zeros((n, self.distance_dim), dtype=np.float32)
        j = 0
        for name, spec in self._columns.items():
            if isinstance(spec, Categorical):
                idx = self._level_codes(name, spec, table[name])
                out[np.arange(n), j + idx] = np.float32(1.0 / math.sqrt(2.0))
                j += spec.cardinality
            else:
                out[:, j] = self._unit(name, spec, table[name], "encode_distance")[1]
                j += 1
        return out

    def encode_marginal(self, table) -> np.ndarray:
        """Encode for marginals: int32 ``(n, n_cols)`` codes, C order.

        Numeric columns get their public bin index, categorical ones the level
        index. ``codes[:, j] < cardinalities[j]``.

        Examples
        --------
        >>> s = Schema({"x": Continuous(0, 1, bins=2), "c": Categorical(["a", "b"])})
        >>> s.encode_marginal({"x": np.array([0.2, 0.7]), "c": np.array(["b", "a"])})
        array([[0, 1],
               [1, 0]], dtype=int32)
        """
        table = self._table(table, "encode_marginal")
        n = len(table[self._names[0]])
        out = np.empty((n, len(self._names)), dtype=np.int32)
        for j, (name, spec) in enumerate(self._columns.items()):
            if isinstance(spec, Categorical):
                out[:, j] = self._level_codes(name, spec, table[name])
            else:
                out[:, j] = spec._codes(self._unit(name, spec, table[name], "encode_marginal")[0])
        return out

    def _check_codes(self, codes, func) -> np.ndarray:
        codes = np.asarray(codes)
        if codes.ndim != 2 or codes.shape[1] != len(self._names) or codes.dtype.kind not in "iu":
            raise InputTypeError(
                f"The 'codes' parameter of {func} must be an integer array of shape (n, {len(self._names)}). "
                f"Got dtype {codes.dtype} and shape {codes.shape} instead."
            )
        card = np.asarray(self.cardinalities)
        if codes.size and (codes.min() < 0 or np.any(codes.max(axis=0) >= card)):
            raise ParameterError(f"{func}: codes must satisfy 0 <= codes[:, j] < cardinalities[j] = {tuple(card)}.")
        return codes

    def decode_marginal(self, codes, rng=None) -> dict:
        """Decode marginal codes to a table.

        Continuous values are drawn uniformly within their bin, integers
        uniformly among the integers of their bin, categorical codes become
        their level values. ``rng`` drives the within-bin draws (not DP noise).

        Examples
        --------
        >>> s = Schema({"x": Integer(0, 9, bins=10), "c": Categorical(["a", "b"])})
        >>> t = s.decode_marginal(np.array([[3, 1], [9, 0]]), rng=0)
        >>> t["x"].tolist(), t["c"].tolist()
        ([3, 9], ['b', 'a'])
        """
        codes = self._check_codes(codes, "decode_marginal")
        gen = as_generator(rng, "decode_marginal")
        out = {}
        for j, (name, spec) in enumerate(self._columns.items()):
            c = np.ascontiguousarray(codes[:, j], dtype=np.int64)
            out[name] = _level_array(spec)[c] if isinstance(spec, Categorical) else spec._decode(c, gen)
        return out

    def encode_mixed(self, table):
        """Encode for the mixture synthesizer.

        Returns
        -------
        cat_codes : int64 ``(n, n_categorical)``
            Level indices of the categorical columns (schema order).
        cont : float64 ``(n, n_numeric)``
            ``(x - lower) / (upper - lower)`` of the continuous and integer
            columns, in ``[0, 1]``.

        Examples
        --------
        >>> s = Schema({"x": Continuous(0, 2), "c": Categorical(["a", "b"])})
        >>> cat, cont = s.encode_mixed({"x": np.array([0.5]), "c": np.array(["b"])})
        >>> cat.tolist(), cont.tolist()
        ([[1]], [[0.25]])
        """
        table = self._table(table, "encode_mixed")
        n = len(table[self._names[0]])
        cat = np.empty((n, len(self.categorical_names)), dtype=np.int64)
        cont = np.empty((n, len(self.numeric_names)), dtype=np.float64)
        for j, name in enumerate(self.categorical_names):
            cat[:, j] = self._level_codes(name, self._columns[name], table[name])
        for j, name in enumerate(self.numeric_names):
            spec = self._columns[name]
            cont[:, j] = self._unit(name, spec, table[name], "encode_mixed")[1]
        return cat, cont

    def decode_mixed(self, cat_codes, cont) -> dict:
        """Inverse of :meth:`encode_mixed` (``cont`` clipped to ``[0, 1]``, integers rounded).

        Examples
        --------
        >>> s = Schema({"x": Integer(0, 10), "c": Categorical(["a", "b"])})
        >>> t = s.decode_mixed(np.array([[0]]), np.array([[0.36]]))
        >>> t["x"].tolist(), t["c"].tolist()
        ([4], ['a'])
        """
        cat_codes = np.asarray(cat_codes)
        cont = np.asarray(cont, dtype=np.float64)
        nc, nn = len(self.categorical_names), len(self.numeric_names)
        if cat_codes.ndim != 2 or cat_codes.shape[1] != nc or cont.ndim != 2 or cont.shape[1] != nn \
                or cat_codes.shape[0] != cont.shape[0]:
            raise InputTypeError(
                f"decode_mixed needs cat_codes of shape (n, {nc}) and cont of shape (n, {nn}). "
                f"Got {cat_codes.shape} and {cont.shape} instead."
            )
        out = {}
        for j, name in enumerate(self.categorical_names):
            spec = self._columns[name]
            c = cat_codes[:, j].astype(np.int64)
            if c.size and (c.min() < 0 or c.max() >= spec.cardinality):
                raise ParameterError(f"decode_mixed: codes of column '{name}' must lie in [0, {spec.cardinality}).")
            out[name] = _level_array(spec)[c]
        for j, name in enumerate(self.numeric_names):
            spec = self._columns[name]
            x = spec.lower + np.clip(cont[:, j], 0.0, 1.0) * (spec.upper - spec.lower)
            if isinstance(spec, Integer):
                x = np.clip(np.rint(x), spec.lower, spec.upper).astype(np.int64)
            out[name] = x
        return {n: out[n] for n in self._names}


def _level_array(spec: Categorical) -> np.ndarray:
    """The levels as an ndarray (str dtype for string levels, int64 for int levels, else object)."""
    lv = spec.levels
    if all(isinstance(v, str) for v in lv):
        return np.array(lv, dtype=str)
    if all(isinstance(v, numbers.Integral) for v in lv):
        return np.array(lv, dtype=np.int64)
    return np.array(lv, dtype=object)


# --------------------------------------------------------------------------
# proposing a schema (NOT private)
# --------------------------------------------------------------------------


def propose_schema(data, bins: int = 16, *, missing_level: str = "<missing>") -> Schema:
    """Propose a schema by reading bounds and levels off the data. NOT PRIVATE.

    The bounds (minimum, maximum) and level lists are read from the private
    records themselves; releasing them can disclose individuals (e.g. the oldest
    person's age). No privacy budget is spent and none is accounted. A
    :class:`~redp.errors.NonPrivateInputWarning` is always emitted. Replace the
    bounds and levels with public knowledge before a release.

    Parameters
    ----------
    data : pandas.DataFrame, dict of array-like, or 2-D numpy array
        A numpy array gets column names ``"x0", "x1", ...``.
    bins : int, default 16
        Equal-width bins for numeric columns.
    missing_level : str, default "<missing>"
        Missing level declared for categorical columns that contain NaN/None.

    Returns
    -------
    Schema

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     s = propose_schema({"age": [23, 40, 61], "c": ["x", "y", "x"], "r": [0.5, 1.5, 2.0]})
    >>> s.columns["age"], s.columns["c"].levels
    (Integer(lower=23, upper=61, bins=16), ('x', 'y'))
    """
    bins = check_int(bins, "bins", "propose_schema", low=1)
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise SchemaError(f"propose_schema: a numpy array must be 2-D. Got shape {data.shape} instead.")
        names = tuple(f"x{j}" for j in range(data.shape[1]))
    elif hasattr(data, "columns"):
        names = tuple(str(c) for c in data.columns)
    elif isinstance(data, dict):
        names = tuple(data)
    else:
        raise InputTypeError(
            f"propose_schema: data must be a pandas DataFrame, a dict of arrays or a 2-D numpy array. "
            f"Got {type(data).__name__} instead."
        )
    cols = _columns_of(data, names, "propose_schema")
    if len(next(iter(cols.values()))) == 0:
        raise SchemaError("propose_schema: the data has 0 rows.")
    warnings.warn(
        "propose_schema read bounds and levels off the PRIVATE data: they are NOT differentially private "
        "and can disclose individual records (e.g. the largest value). No budget was spent or accounted. "
        "Replace them with public knowledge before releasing anything.",
        NonPrivateInputWarning,
        stacklevel=2,
    )
    specs = {}
    for name, a in cols.items():
        numeric = a.dtype.kind in "iuf"
        if a.dtype.kind == "O":
            try:
                a = a.astype(np.float64)
                numeric = True
            except (TypeError, ValueError):
                numeric = False
        if numeric:
            x = a.astype(np.float64)
            x = x[np.isfinite(x)]
            if x.size == 0:
                raise SchemaError(f"propose_schema: column '{name}' has no finite value.")
            lo, hi = float(x.min()), float(x.max())
            if np.all(x == np.round(x)):
                specs[name] = Integer(int(lo), int(hi) if hi > lo else int(lo) + 1, bins=bins)
            else:
                specs[name] = Continuous(lo, hi if hi > lo else lo + 1.0, bins=bins)
            continue
        miss = _missing_mask(a)
        vals = a[~miss] if miss is not None else a
        levels = sorted({v.item() if isinstance(v, np.generic) else v for v in vals}, key=lambda v: (str(type(v)), v))
        has_missing = miss is not None and bool(miss.any())
        specs[name] = Categorical(levels, missing=missing_level if has_missing else None)
    return Schema(specs)
