"""Chunked inputs: tables that are read a piece at a time, several times.

:meth:`redp.REPS.fit` makes two or three passes over the data (stage-1
statistics; scoring, weighting and stage-2 statistics), each chunk by chunk,
so its memory does not grow with the number of rows beyond the per-record
weights and scores. A *source* hands out the chunks of one pass; every pass
sees the same rows in the same order.

Accepted inputs (:func:`as_source`):

* an in-memory table (dict of arrays, pandas DataFrame, 2-D array): sliced;
* a path to a ``.npy`` file (2-D, columns in schema order) or an
  :class:`numpy.memmap` of one: read with plain file reads, so the pages do not
  stay resident (a memory map's pages would count towards the peak RSS);
* a path to a ``.csv`` file (read with pandas in chunks when pandas is
  installed, else with the csv module) or a ``.parquet`` file (pyarrow, extra
  ``parquet``), columns selected by name;
* an iterable of chunks (DataFrames, dicts of arrays or 2-D arrays), or a
  callable returning a fresh iterator per pass. A one-shot iterator (a
  generator) is spooled to a temporary folder during the first pass (removed
  when the fit ends), because the fit needs more than one pass.

The rows a source yields are private data; nothing here is DP.

Examples
--------
>>> import numpy as np, os, tempfile, redp
>>> from redp.sources import as_source
>>> schema = redp.Schema({"x": redp.Continuous(0, 1), "y": redp.Continuous(0, 1)})
>>> path = os.path.join(tempfile.mkdtemp(), "t.npy")
>>> np.save(path, np.random.default_rng(0).uniform(size=(10, 2)))
>>> src = as_source(path, schema, chunk_rows=4)
>>> [c.shape for c in src.chunks()], src.output_kind
([(4, 2), (4, 2), (2, 2)], 'array')
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile

import numpy as np

from ._validation import check_int
from .errors import InputTypeError, SchemaError

__all__ = ["ChunkSource", "as_source", "is_chunked_input", "DEFAULT_CHUNK_ROWS"]

DEFAULT_CHUNK_ROWS = 1 << 19  # ~0.5 M rows: a few hundred MB of intermediates at 20 columns


def is_chunked_input(data) -> bool:
    """True for inputs that are not a table in memory: paths, memory maps, iterables, callables."""
    if isinstance(data, (str, os.PathLike)):
        return True
    if isinstance(data, np.memmap):
        return True
    if isinstance(data, (dict, np.ndarray)) or hasattr(data, "columns"):
        return False
    return callable(data) or hasattr(data, "__iter__")


class ChunkSource:
    """Base class: ``chunks()`` returns a fresh iterator over the chunks of one pass.

    Attributes
    ----------
    output_kind : {"dict", "array", "pandas"}
        The kind of table :meth:`redp.REPS.sample` returns for this input.
    description : str
    """

    output_kind = "dict"
    description = "chunks"

    def chunks(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        """Release temporary files (spooled iterators)."""


class _MemorySource(ChunkSource):
    def __init__(self, data, names, chunk_rows, output_kind):
        self.description = f"in-memory {type(data).__name__}"
        self.output_kind = output_kind
        self._data, self._names, self._rows = data, names, chunk_rows

    def chunks(self):
        data = self._data
        if isinstance(data, np.ndarray):
            n = data.shape[0]
            for lo in range(0, n, self._rows):
                yield data[lo:lo + self._rows]
            return
        if hasattr(data, "iloc"):
            n = len(data)
            for lo in range(0, n, self._rows):
                yield data.iloc[lo:lo + self._rows]
            return
        cols = {k: np.asarray(data[k]) for k in self._names if k in data}
        if len(cols) < len(self._names):  # let Schema.validate name the missing columns
            yield data
            return
        n = len(next(iter(cols.values())))
        for lo in range(0, max(n, 1), self._rows):
            yield {k: v[lo:lo + self._rows] for k, v in cols.items()}


class _NpySource(ChunkSource):
    """A 2-D ``.npy`` (or ``np.memmap``) read by row ranges with ordinary file reads."""

    output_kind = "array"

    def __init__(self, path, n_cols, chunk_rows, offset=None, shape=None, dtype=None, fortran=None):
        self.path = os.fspath(path)
        if offset is None:
            with open(self.path, "rb") as f:
                try:
                    version = np.lib.format.read_magic(f)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, fortran, dtype = read_header(f)
                except ValueError as exc:
                    raise InputTypeError(f"{self.path} is not a readable .npy file: {exc}") from None
                offset = f.tell()
        dtype = np.dtype(dtype)
        if len(shape) != 2 or shape[1] != n_cols:
            raise SchemaError(
                f"REPS.fit: a .npy input must be 2-D with one column per schema column ({n_cols}, in schema "
                f"order). Got shape {tuple(shape)} in {self.path} instead."
            )
        if dtype.hasobject:
            raise InputTypeError(f"REPS.fit: {self.path} holds Python objects; a .npy input must be numeric.")
        self.description = f".npy file {self.path} {tuple(shape)} {dtype}"
        self._offset, self._shape, self._dtype, self._fortran = int(offset), tuple(shape), dtype, bool(fortran)
        self._rows = chunk_rows

    def chunks(self):
        n, d = self._shape
        if self._fortran:  # column-major on disk: slice a memory map (rare; pages may stay resident)
            mm = np.memmap(self.path, dtype=self._dtype, mode="r", offset=self._offset, shape=self._shape, order="F")
            for lo in range(0, n, self._rows):
                yield np.ascontiguousarray(mm[lo:lo + self._rows])
            del mm
            return
        row_bytes = d * self._dtype.itemsize
        with open(self.path, "rb") as f:
            for lo in range(0, n, self._rows):
                m = min(self._rows, n - lo)
                f.seek(self._offset + lo * row_bytes)
                out = np.empty((m, d), dtype=self._dtype)
                got = f.readinto(memoryview(out).cast("B"))
                if got != m * row_bytes:
                    raise InputTypeError(f"{self.path} is truncated: expected {n} rows of {d} columns.")
                yield out


class _CsvSource(ChunkSource):
    def __init__(self, path, names, categorical, chunk_rows):
        self.path, self._names, self._cat, self._rows = os.fspath(path), names, categorical, chunk_rows
        self.description = f"CSV file {self.path}"
        with open(self.path, newline="") as f:
            import csv

            try:
                header = [h.strip() for h in next(csv.reader(f, skipinitialspace=True))]
            except StopIteration:
                raise SchemaError(f"{self.path} is empty: expected a header row with columns {list(names)}.") from None
        missing = [c for c in names if c not in header]
        if missing:
            raise SchemaError(f"REPS.fit: {self.path} lacks the schema columns {missing}. Its header is {header}.")
        self._header = header

    def chunks(self):
        try:
            import pandas as pd
        except ImportError:
            yield from self._chunks_csv_module()
            return
        reader = pd.read_csv(self.path, chunksize=self._rows, usecols=list(self._names), skipinitialspace=True)
        with reader:
            for df in reader:
                yield df

    def _chunks_csv_module(self):
        import csv

        idx = [self._header.index(c) for c in self._names]
        with open(self.path, newline="") as f:
            reader = csv.reader(f, skipinitialspace=True)
            next(reader)
            rows = []
            for r in reader:
                if r:
                    rows.append(r)
                if len(rows) == self._rows:
                    yield self._table(rows, idx)
                    rows = []
            if rows:
                yield self._table(rows, idx)

    def _table(self, rows, idx):
        out = {}
        for name, j in zip(self._names, idx):
            raw = [r[j].strip() if j < len(r) else "" for r in rows]
            if name in self._cat:
                out[name] = np.array(raw, dtype=object)
            else:
                out[name] = np.array([float(v) if v not in ("", "?", "NA", "nan", "NaN") else np.nan for v in raw])
        return out


class _ParquetSource(ChunkSource):
    def __init__(self, path, names, chunk_rows):
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise ImportError(
                "Reading Parquet needs pyarrow: pip install 'redp[parquet]' (or pass a CSV, .npy or an iterator)."
            ) from None
        self.path, self._names, self._rows = os.fspath(path), names, chunk_rows
        self.description = f"Parquet file {self.path}"
        present = pq.ParquetFile(self.path).schema_arrow.names
        missing = [c for c in names if c not in present]
        if missing:
            raise SchemaError(f"REPS.fit: {self.path} lacks the schema columns {missing}. It has {present}.")

    def chunks(self):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(self.path)
        for batch in pf.iter_batches(batch_size=self._rows, columns=list(self._names)):
            yield {name: batch.column(i).to_numpy(zero_copy_only=False) for i, name in enumerate(self._names)}


class _IterableSource(ChunkSource):
    """Re-iterable containers and factories are read again each pass; one-shot iterators are spooled."""

    def __init__(self, data):
        self._data = data
        self._factory = data if callable(data) and not hasattr(data, "__iter__") else None
        self._one_shot = self._factory is None and iter(data) is data
        self._spool, self._n_spooled, self._complete = None, 0, False
        self.description = "iterator of chunks" + (" (spooled to a temporary folder)" if self._one_shot else "")

    def _kind(self, chunk):
        if hasattr(chunk, "iloc"):
            self.output_kind = "pandas"
        elif isinstance(chunk, np.ndarray):
            self.output_kind = "array"

    def chunks(self):
        if self._factory is not None:
            it = self._factory()
        elif not self._one_shot:
            it = iter(self._data)
        elif self._complete:
            yield from self._replay()
            return
        else:
            it = self._spooling(self._data)
        first = True
        for chunk in it:
            if first:
                self._kind(chunk)
                first = False
            yield chunk

    def _spooling(self, it):
        if self._spool is not None:
            raise InputTypeError(
                "REPS.fit: a one-shot iterator was consumed before its first pass finished; pass a list, a "
                "callable returning a fresh iterator, or a file path instead."
            )
        self._spool = tempfile.mkdtemp(prefix="redp-spool-")
        for chunk in it:
            with open(os.path.join(self._spool, f"{self._n_spooled:08d}.pkl"), "wb") as f:
                pickle.dump(chunk, f, protocol=pickle.HIGHEST_PROTOCOL)
            self._n_spooled += 1
            yield chunk
        self._complete = True

    def _replay(self):
        for i in range(self._n_spooled):
            with open(os.path.join(self._spool, f"{i:08d}.pkl"), "rb") as f:
                yield pickle.load(f)  # our own temporary file, written above

    def close(self) -> None:
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)
            self._spool = None


def as_source(data, schema, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> ChunkSource:
    """Wrap ``data`` as a :class:`ChunkSource` of chunks with at most ``chunk_rows`` rows (where the source allows).

    Parameters
    ----------
    data : table, path (``.npy``, ``.csv``, ``.parquet``/``.pq``), np.memmap, iterable or callable
    schema : redp.Schema
    chunk_rows : int, default 524288

    Returns
    -------
    ChunkSource

    Raises
    ------
    InputTypeError
        A path with another suffix, a file that does not exist, or an unsupported object.
    SchemaError
        Wrong shape or missing columns (checked before any pass).
    """
    from .schema import Categorical

    chunk_rows = check_int(chunk_rows, "chunk_rows", "as_source", low=1)
    names = schema.names
    if isinstance(data, np.memmap):
        base = getattr(data, "filename", None)
        if base is not None and data.ndim == 2 and (data.flags.c_contiguous or data.flags.f_contiguous) \
                and getattr(data, "offset", None) is not None and data.base is not None and data.size:
            return _NpySource(base, len(names), chunk_rows, offset=data.offset, shape=data.shape, dtype=data.dtype,
                              fortran=not data.flags.c_contiguous)
        return _MemorySource(np.asarray(data), names, chunk_rows, "array")
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if not os.path.exists(path):
            raise InputTypeError(f"REPS.fit: the input path {path!r} does not exist.")
        low = path.lower()
        if low.endswith(".npy"):
            return _NpySource(path, len(names), chunk_rows)
        if low.endswith((".csv", ".csv.gz", ".txt")):
            cat = {n for n, s in schema.columns.items() if isinstance(s, Categorical)}
            return _CsvSource(path, names, cat, chunk_rows)
        if low.endswith((".parquet", ".pq")):
            return _ParquetSource(path, names, chunk_rows)
        raise InputTypeError(
            f"REPS.fit: cannot read {path!r}; paths must end in .npy, .csv or .parquet. Load other formats yourself "
            f"and pass a DataFrame or an iterator of chunks."
        )
    if isinstance(data, np.ndarray):
        return _MemorySource(data, names, chunk_rows, "array")
    if isinstance(data, dict):
        return _MemorySource(data, names, chunk_rows, "dict")
    if hasattr(data, "columns") and hasattr(data, "iloc"):
        return _MemorySource(data, names, chunk_rows, "pandas")
    if callable(data) or hasattr(data, "__iter__"):
        return _IterableSource(data)
    raise InputTypeError(
        f"REPS.fit: data must be a table (DataFrame, dict of arrays, 2-D array), a path (.npy, .csv, .parquet), an "
        f"iterable of chunks or a dask DataFrame. Got {type(data).__name__} instead."
    )
