"""CSV in and out for the command line, without pandas.

Values are parsed per the public schema: numeric columns with ``float``,
categorical columns kept as strings. Output is written atomically (a
temporary file renamed into place), so an error never leaves half a file.

Examples
--------
>>> import os, tempfile, redp
>>> schema = redp.Schema({"age": redp.Continuous(0, 100), "sex": redp.Categorical(["F", "M"])})
>>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
>>> write_csv(path, {"age": [30.0, 41.5], "sex": ["F", "M"]}, ["age", "sex"])
>>> read_csv(path, schema)["age"]
array([30. , 41.5])
"""

from __future__ import annotations

import csv
import os
import tempfile

import numpy as np

from .errors import SchemaError

__all__ = ["read_csv", "write_csv", "atomic_write_text"]


def read_csv(path, schema) -> dict:
    """Read the schema's columns from a CSV with a header row (extra columns ignored)."""
    from .schema import Categorical

    with open(path, newline="") as f:
        reader = csv.reader(f, skipinitialspace=True)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise SchemaError(f"{path} is empty: expected a header row with columns {schema.names}.") from None
        missing = [c for c in schema.names if c not in header]
        if missing:
            raise SchemaError(f"{path} lacks the schema columns {missing}. Its header is {header}.")
        idx = [header.index(c) for c in schema.names]
        rows = [r for r in reader if r]
    table = {}
    for name, j in zip(schema.names, idx):
        raw = [r[j].strip() if j < len(r) else "" for r in rows]
        if isinstance(schema.columns[name], Categorical):
            table[name] = np.array(raw, dtype=object)
            continue
        out = np.empty(len(raw), dtype=np.float64)
        for i, v in enumerate(raw):
            try:
                out[i] = float(v) if v not in ("", "?", "NA", "nan", "NaN") else np.nan
            except ValueError:
                raise SchemaError(
                    f"Column '{name}' is numeric in the schema, but row {i + 2} of {path} holds {v!r}. "
                    "Fix the value or declare the column Categorical."
                ) from None
        table[name] = out
    return table


def atomic_write_text(path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".redp-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_csv(path, table: dict, names) -> None:
    """Write the columns ``names`` of ``table`` as CSV, atomically."""
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(names)
    cols = [np.asarray(table[n]) for n in names]
    for row in zip(*cols):
        w.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row])
    atomic_write_text(path, buf.getvalue())
